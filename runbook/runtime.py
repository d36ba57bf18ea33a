"""Everything one run needs, built in one place for the CLI, the app and tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook import __version__, notify
from runbook.audit.log import AuditCorruptError, AuditLog
from runbook.audit.operator import local_user
from runbook.audit.verify import records_backward
from runbook.aws.session import SessionFactory
from runbook.backend import RunBackend, open_backend
from runbook.checkapi import CheckContext
from runbook.dns.rollback import RollbackClient, RollbackResult, run_rollback
from runbook.dns.snapshot import SNAPSHOT_FILE
from runbook.files import AUDIT_FILE, STATE_FILE
from runbook.loader import LoadedRunbook, load
from runbook.model import Runbook
from runbook.registry import CheckRegistry
from runbook.rollback_reset import reset_on_rollback
from runbook.state import AuditHead, RunState, StateStore


@dataclass
class Runtime:
    loaded: LoadedRunbook
    sessions: SessionFactory
    registry: CheckRegistry
    audit: AuditLog
    store: StateStore
    state: RunState
    resumed: bool
    lock: threading.RLock = field(default_factory=threading.RLock)
    backend: RunBackend | None = None  # None: the state directory alone
    rollback_client: RollbackClient = field(default_factory=RollbackClient)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        sessions: SessionFactory | None = None,
        registry: CheckRegistry | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Runtime:
        registry = registry if registry is not None else CheckRegistry.discover()
        loaded = load(path, registry)
        state_dir = loaded.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        sessions = sessions if sessions is not None else SessionFactory(loaded.model.accounts)
        backend = open_backend(loaded.model, sessions, state_dir)
        store = StateStore(state_dir / STATE_FILE)
        backend.attach_state(store)  # with S3, the shared state; the file is its mirror
        resumed = store.exists()
        state = store.load()
        if not resumed:
            state = store.update(lambda _fresh: None)  # created once, even by two at a time
        audit = AuditLog(
            state_dir / AUDIT_FILE,
            run_id=state.run_id,
            environment=loaded.model.migration.environment,
            operator={"local_user": local_user(), "aws_arn": None},
            **({"clock": clock} if clock is not None else {}),
        )
        try:
            check_head(audit, state)
        except AuditCorruptError:
            audit.close()
            raise
        backend.attach_audit(audit, state.run_id)
        notify.attach(loaded.model, sessions, audit)  # best effort, in the background
        runtime = cls(
            loaded=loaded,
            sessions=sessions,
            registry=registry,
            audit=audit,
            store=store,
            state=state,
            resumed=resumed,
            backend=backend,
        )
        audit.record(
            "run.resumed" if resumed else "run.started",
            runbook=str(loaded.path.resolve()),
            migration=loaded.model.migration.name,
            ticket=loaded.model.migration.ticket,
            version=__version__,
        )
        return runtime

    @property
    def model(self) -> Runbook:
        return self.loaded.model

    @property
    def state_dir(self) -> Path:
        return self.loaded.state_dir

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / SNAPSHOT_FILE

    def update_state(self, change: Callable[[RunState], object]) -> RunState:
        """Change the run state as other processes may have left it, and keep the result."""
        seq, digest = self.audit.seq, self.audit.head_hash

        def change_and_mark(state: RunState) -> None:
            change(state)
            if state.audit_head is None or state.audit_head.seq < seq:
                state.audit_head = AuditHead(seq=seq, hash=digest)

        with self.lock:
            self.state = self.store.update(change_and_mark)
            return self.state

    def refresh_state(self) -> RunState:
        """The state as on disk now (another process may have changed it)."""
        with self.lock:
            self.state = self.store.load()
            return self.state

    def rollback(
        self,
        *,
        deadline_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_attempt: Callable[[int, str], None] | None = None,
    ) -> RollbackResult:
        """DNS back to the snapshot, audited; safe to call from any thread at any time."""
        return run_rollback(
            snapshot_path=self.snapshot_path,
            sessions=self.sessions,
            audit=self.audit,
            update_state=self.update_state,
            deadline_s=deadline_s or self.model.settings.rollback_deadline_s,
            sleep=sleep,
            on_attempt=on_attempt,
            flip_steps=reset_on_rollback(self.model),  # the flip and all after it, done again
            audit_path=self.audit.path,
            client_for=self.rollback_client.take(self.sessions),
            reached_as=self.account_fields,
        )

    def account_fields(self, name: str) -> dict[str, Any] | None:
        """An account of this runbook as a snapshot records it; None if it has none."""
        account = getattr(self.model.accounts, name, None)
        return None if account is None else account.model_dump()

    def prepare_rollback(self) -> None:
        """Build the next rollback's client now, in a thread (the app: when it asks)."""
        self.rollback_client.prepare(self.sessions, self.model.dns.account)

    def check_context(self, step_id: str | None) -> CheckContext:
        return CheckContext(
            runbook=self.loaded.model,
            sessions=self.sessions,
            state_dir=self.state_dir,
            step_id=step_id,
            state=self.state,
        )

    def close(self) -> None:
        self.audit.close()


def check_head(audit: AuditLog, state: RunState) -> None:
    """The log must still hold the record the run state last saw, unchanged.

    A chain alone cannot show a truncated tail or a log rewritten with every
    hash recomputed; the head kept in the state can.
    """
    seen = state.audit_head
    if seen is None:
        return
    if audit.seq < seen.seq:
        raise AuditCorruptError(
            f"{audit.path} ends at seq {audit.seq}, but the run state saw seq {seen.seq}: "
            "records are missing (a truncated or emptied log). Nothing was done; "
            f"run `runbook audit verify {audit.path} --head {seen.seq}:{seen.hash}`"
        )
    record = next((r for r in records_backward(audit.path) if r.get("seq") == seen.seq), None)
    if record is None or record.get("hash") != seen.hash:
        found = "no such record" if record is None else f"hash {str(record.get('hash'))[:12]}"
        raise AuditCorruptError(
            f"{audit.path}: seq {seen.seq} has {found}, but the run state saw hash "
            f"{seen.hash[:12]}: the log was rewritten. Nothing was done"
        )
