"""Who is at the keyboard, as the audit log's `operator.local_user` names them."""

from __future__ import annotations

import getpass
import os
import socket


def local_user() -> str:
    """$RUNBOOK_OPERATOR (e.g. on a shared jump host), else user@host."""
    if named := os.environ.get("RUNBOOK_OPERATOR"):
        return named
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:
        return f"uid {os.getuid()}"
