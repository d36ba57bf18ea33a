"""`runbook lambda package`: the UserMigration trigger as a deployable zip.

The zip holds exactly two files, read from the repository as files (never
imported): the handler, as `lambda_function.py` (handler
`lambda_function.handler`, Python 3.11+ runtime; boto3 comes with the runtime),
and the standard-library-only attribute module it imports, as
`cognito_attributes.py`. This packager is not in the zip.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from runbook.durable import atomic_write

HANDLER = "lambda_function.handler"
ZIP_NAME = "cognito-user-migration.zip"

_TRIGGER = Path(__file__).parent
# Name in the zip -> source file. The handler imports `cognito_attributes` when it
# is not inside the `runbook` package (see its imports).
FILES: dict[str, Path] = {
    "cognito_attributes.py": _TRIGGER.parent / "attributes.py",
    "lambda_function.py": _TRIGGER / "handler.py",
}
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the archive is reproducible


def zip_bytes() -> bytes:
    """The deployable archive in memory (the demo deploys it to the emulator)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in sorted(FILES.items()):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, source.read_bytes())
    return buffer.getvalue()


def build_zip(dest: Path) -> Path:
    """Write the deployable zip, atomically; return its path.

    `dest` may be a directory (the zip is named cognito-user-migration.zip) or a
    file path. The archive is byte-for-byte reproducible.
    """
    path = dest / ZIP_NAME if dest.is_dir() else dest
    atomic_write(path, zip_bytes(), mode=0o644)  # a deployable artifact, not run state
    return path
