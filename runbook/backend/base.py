"""The run backend interface, and the default: the local state directory, as it always was."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from runbook.audit.log import AuditLog
from runbook.audit.verify import read_records
from runbook.lease import RunLease
from runbook.state import StateStore


class RunBackend(Protocol):
    """Where a run's audit records, state, lease and DNS snapshot live."""

    description: str
    shared: bool  # True when more than this machine sees the run

    def attach_state(self, store: StateStore) -> None:
        """Before the state is first read."""

    def attach_audit(self, audit: AuditLog, run_id: str) -> None:
        """Once the local log is open."""

    def lease(self) -> RunLease: ...

    def records(self) -> list[dict[str, Any]]:
        """The run's audit records as everyone sees them (approvals are counted on these)."""
        ...

    def flush(self, timeout: float) -> bool:
        """Wait until this process's records are where everyone reads them."""
        ...


class LocalBackend:
    """The state directory alone: nothing leaves this machine."""

    description = "local state directory"
    shared = False

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._audit_path: Path | None = None

    def attach_state(self, store: StateStore) -> None:
        pass

    def attach_audit(self, audit: AuditLog, run_id: str) -> None:
        self._audit_path = audit.path

    def lease(self) -> RunLease:
        return RunLease(self.state_dir)

    def records(self) -> list[dict[str, Any]]:
        path = self._audit_path
        return read_records(path) if path is not None and path.exists() else []

    def flush(self, timeout: float) -> bool:
        return True  # every record is fsynced before it is acknowledged
