"""The S3 run backend: the shared chain, state, lease and snapshot, with a local mirror."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.audit.log import AuditLog
from runbook.backend.chain import Retention, SharedChain
from runbook.backend.remote import S3Lease, S3State, publish_snapshot, pull_snapshot
from runbook.backend.sink import S3AuditSink
from runbook.backend.store import (
    BackendError,
    BackendUnavailable,
    Conflict,
    ObjectStore,
    S3Location,
)
from runbook.dns.snapshot import SNAPSHOT_FILE
from runbook.lease import RunLease
from runbook.state import StateStore


class S3Backend:
    shared = True

    def __init__(
        self, client: Any, url: str, state_dir: Path, retention: Retention | None = None
    ) -> None:
        self.store = ObjectStore(client, S3Location.parse(url))
        self.description = self.store.location.url
        self.state_dir = state_dir
        self.chain = SharedChain(self.store, retention)
        self.state = S3State(self.store)
        self.sink: S3AuditSink | None = None

    def attach_state(self, store: StateStore) -> None:
        store.remote = self.state

    def attach_audit(self, audit: AuditLog, run_id: str) -> None:
        self.sink = S3AuditSink(self.chain, audit.path, run_id=run_id, before_push=self._before)
        audit.sinks.append(self.sink)
        self.sink.catch_up()  # what this machine wrote while S3 was out of reach
        with contextlib.suppress(BackendUnavailable):  # a later sync brings it
            pull_snapshot(self.store, self.state_dir / SNAPSHOT_FILE)

    def _before(self, record: dict[str, Any]) -> None:
        # The snapshot goes up before the record that vouches for it, and so before the
        # flip is sent: another machine can roll back if this one dies mid-flip.
        if record.get("event") == "dns.snapshot_saved":
            path = Path(str((record.get("details") or {}).get("path") or ""))
            if path.is_file():
                publish_snapshot(self.store, path)

    def lease(self) -> RunLease:
        return S3Lease(self.store, self.state_dir)

    def records(self) -> list[dict[str, Any]]:
        return self.chain.records()

    def flush(self, timeout: float) -> bool:
        return self.sink.flush(timeout) if self.sink is not None else True

    def sync(self, audit_path: Path, mirror: StateStore) -> SyncReport:
        """Push what this machine wrote locally (records, snapshot, a rollback's milestones),
        and mirror the shared state and snapshot here, so a later rollback finds them."""
        local = mirror.load()  # a store without a remote: the local file alone
        try:
            shared = self.state.load(local)
            sink = S3AuditSink(
                self.chain, audit_path, run_id=shared.run_id, before_push=self._before
            )
            try:
                result = sink.sync()
            finally:
                sink.close()
            notes: list[str] = []
            if not mirror.exists() and self.state.local_only is None:
                mirror.save(shared)
                notes.append(f"mirrored the shared run state into {mirror.path}")
            snapshot = self.state_dir / SNAPSHOT_FILE
            if pull_snapshot(self.store, snapshot):
                notes.append(f"pulled the DNS snapshot into {snapshot}")
            elif snapshot.is_file():
                publish_snapshot(self.store, snapshot)
            if result.error is None and self.state.merge_rollback(local):
                notes.append("the shared state now records the rollback made on this machine")
        except (BackendUnavailable, BackendError, Conflict) as exc:
            return SyncReport(pushed=0, pending=-1, error=str(exc), notes=[])
        return SyncReport(result.pushed, result.pending, result.error, notes)


@dataclass(frozen=True)
class SyncReport:
    pushed: int
    pending: int  # -1: unknown (S3 did not answer)
    error: str | None
    notes: list[str]
