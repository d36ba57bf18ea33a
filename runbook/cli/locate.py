"""Which audit log a command means: a file, a run's directory, or the runbook's run (`-f`).

`runbook audit verify .runbook/`, `runbook audit verify runbook-demo/` and
`runbook audit verify -f runbook.toml` all mean the same log, as `git -C DIR`
or `tar -f` would let them. Locating a log reads only: nothing is created.
"""

from __future__ import annotations

import json
from pathlib import Path

from runbook.cli.output import UsageError
from runbook.files import AUDIT_FILE

DEFAULT_RUNBOOK = "runbook.toml"
# `[migration] state_dir`'s default, beside the runbook (DESIGN section 4).
DEFAULT_STATE_DIR = ".runbook"


def _from_runbook(runbook: Path) -> Path:
    from runbook.loader import load  # a broken runbook is reported by `main`, exit 2

    log = load(runbook).state_dir / AUDIT_FILE
    if not log.is_file():
        raise UsageError(f"{runbook}: its run has no audit log yet (no {log})")
    return log


def audit_log(path: str | None, runbook: str | None) -> Path:
    """The audit log named by PATH (file or directory) or by `-f RUNBOOK`."""
    if path is not None and runbook is not None:
        raise UsageError("give an audit log (or its directory) or -f RUNBOOK, not both")
    if path is None:
        return _from_runbook(Path(runbook or DEFAULT_RUNBOOK))
    given = Path(path)
    if given.is_dir():
        name = AUDIT_FILE
        for log in (given / name, given / DEFAULT_STATE_DIR / name):
            if log.is_file():
                return log
        if (given / DEFAULT_RUNBOOK).is_file():  # a runbook whose state_dir is elsewhere
            return _from_runbook(given / DEFAULT_RUNBOOK)
        raise UsageError(
            f"{path}: no audit log in this directory (looked for {name}, "
            f"{DEFAULT_STATE_DIR}/{name} and {DEFAULT_RUNBOOK})"
        )
    if not given.exists():
        raise UsageError(f"{path}: no such file or directory")
    if not _holds_a_record(given):
        hint = f" (a runbook? give it as -f {path})" if given.suffix == ".toml" else ""
        raise UsageError(
            f"{path}: no line of it is an audit record: not an audit log, or one altered "
            f"beyond reading{hint}"
        )
    return given


def _holds_a_record(path: Path) -> bool:
    """Whether any line is a JSON object: a log with a few altered lines still is one,
    and `verify` names them; a runbook passed by mistake is not (it read as tampering)."""
    try:
        with path.open("rb") as lines:
            for raw in lines:
                if raw.lstrip().startswith(b"{"):
                    try:
                        if isinstance(json.loads(raw), dict):
                            return True
                    except ValueError:
                        continue
    except OSError:
        return True  # unreadable: the command says so in its own words
    return path.stat().st_size == 0  # an empty log is a log with no records yet
