"""Where `--out` writes: into a directory under the file's default name, or the file given.

As `cp` and `rsync` do: an existing directory receives the file under its
default name. A trailing slash says "into this directory", so one that does not
exist is an error (a typo must not become a new directory); a file path is
written where it says, as before.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputPathError(ValueError):
    """`--out` names a place that cannot be written; the message says which part is missing."""


def output_path(out: Path | str, default_name: str) -> Path:
    """The file `--out OUT` means, for a command whose file is called `default_name`."""
    text = str(out)
    path = Path(out)
    if path.is_dir():
        return path / default_name
    if text.endswith(("/", os.sep)):
        said = "is not a directory" if path.exists() else "no such directory"
        raise OutputPathError(f"--out {text}: {said}; nothing was written")
    return path  # a file: written atomically, its directories made as needed
