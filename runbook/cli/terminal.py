"""What libraries say on the terminal: one line each, never a traceback.

botocore, urllib3, werkzeug and `warnings` all write to stderr through the
stdlib's logging. A traceback there tells the operator nothing they can act on
(and at 3 a.m. looks like the tool crashed), so the command line prints each
distinct record once, as one line naming what it is about. The full records
still go to the app's log file when the app runs (`install_logging(log_file=)`
replaces this handler: under the app, stderr is the screen).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from runbook.formatting import printable

# botocore's own wording when a refresh fails (botocore/credentials.py).
_REFRESH_FAILED = "Refreshing temporary credentials failed"
# The embedded emulator's server: an API it lacks is a 500 for the caller, who says
# so (a check's error); its "Error on request" traceback is for the app's log only.
_NOT_FOR_THE_TERMINAL = ("werkzeug",)


def _cause(record: logging.LogRecord) -> BaseException | None:
    if record.exc_info and record.exc_info[1] is not None:
        return record.exc_info[1]
    return None


def _is_credentials_error(exc: BaseException | None) -> bool:
    # Looked up, not imported: a command that never built a session (rollback's lean
    # path, `audit show`) has no boto3 loaded, and no such error to meet.
    session = sys.modules.get("runbook.aws.session")
    return session is not None and isinstance(exc, session.CredentialsError)


def one_line(record: logging.LogRecord) -> str | None:
    """The line for a record, or None when the caller reports the failure itself."""
    if record.name.split(".")[0] in _NOT_FOR_THE_TERMINAL:
        return None
    exc = _cause(record)
    message = record.getMessage().strip().rstrip(".")
    if message.startswith(_REFRESH_FAILED) and _is_credentials_error(exc):
        if "mandatory" in message:
            # Raised to the caller too, which says it with the account (a check's
            # error, `check`'s account lines, the app's notice): once is enough.
            return None
        # Advisory: the old credentials still work for a while; the next refresh retries.
        return f"runbook: warning: {exc} (the current credentials still work for now)"
    level = record.levelname.lower()
    where = "" if record.name in ("root", "py.warnings") else f"{record.name}: "
    line = f"runbook: {level}: {where}{message.splitlines()[0] if message else ''}"
    if exc is not None:
        said = str(exc).splitlines()[0] if str(exc) else ""
        line += f": {type(exc).__name__}" + (f": {said}" if said else "")
    return line


class OneLineHandler(logging.StreamHandler[TextIO]):
    """Each distinct record once, as one printable line; tracebacks never."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._follow_stderr = stream is None  # sys.stderr as it is when a record comes
        self._said: set[str] = set()
        self._said_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = one_line(record)
            if line is None:
                return
            line = printable(line)
            with self._said_lock:
                if line in self._said:
                    return  # a failing endpoint says the same thing on every call
                self._said.add(line)
            if self._follow_stderr:
                self.stream = sys.stderr
            self.stream.write(line + "\n")
            self.flush()
        except Exception:
            self.handleError(record)


def install_terminal_logging(stream: TextIO | None = None) -> OneLineHandler:
    """Route library logging and `warnings` to one-line messages on stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, OneLineHandler):
            root.removeHandler(handler)
    handler = OneLineHandler(stream)
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # `warnings.warn` from libraries: the same one line
    return handler
