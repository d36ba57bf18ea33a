"""`runbook lambda package`: the UserMigration trigger as a deployable zip.

The zip holds the handler and its companions, read from the repository as
files (never imported): the handler, as `lambda_function.py` (handler
`lambda_function.handler`, Python 3.11+ runtime; boto3 comes with the runtime),
the standard-library-only attribute module, as `cognito_attributes.py`, and
this package's `common`, `migration` and `groups` modules (standard library
and boto3 only), as `cognito_trigger_common.py`, `cognito_migration.py` and
`cognito_groups.py`. This packager is not in the zip.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from runbook.durable import atomic_write

HANDLER = "lambda_function.handler"
ZIP_NAME = "cognito-user-migration.zip"

_TRIGGER = Path(__file__).parent
# Name in the zip -> source file. Outside the `runbook` package the modules import
# each other by these names (see their imports).
FILES: dict[str, Path] = {
    "cognito_attributes.py": _TRIGGER.parent / "attributes.py",
    "cognito_groups.py": _TRIGGER / "groups.py",
    "cognito_migration.py": _TRIGGER / "migration.py",
    "cognito_trigger_common.py": _TRIGGER / "common.py",
    "lambda_function.py": _TRIGGER / "handler.py",
}
# What the target pool must declare for the trigger to flag users whose MFA must
# be enrolled again (`runbook lambda package` prints it).
REQUIREMENTS = (
    "Declare the custom attribute mfa_reenrol (String, mutable, readable by the app "
    "client) in the target pool: the trigger sets custom:mfa_reenrol (e.g. 'totp') on "
    "users whose TOTP or email MFA must be enrolled again, and logs each as an "
    "'mfa_reenrol' line. Set CASE_INSENSITIVE_EMAILS and DEFAULT_COUNTRY_CODE as the "
    "runbook's cognito settings."
)
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
