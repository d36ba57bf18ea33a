"""Rollback as an audited operation: intent, the UPSERT loop, outcome, state.

It shares nothing with the app's other workers but the audit log and the
run-state lock: its Route 53 client is new on every call, with botocore's
retries off so that its own bounded, jittered loop is the only retry policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from runbook.audit import AuditLog
from runbook.aws import SessionFactory
from runbook.dns import ROLLBACK_CLIENT_CONFIG, RollbackResult, Snapshot, rollback
from runbook.model import Account
from runbook.state import RunState, StateStore, utcnow


class NoSnapshotError(RuntimeError):
    """There is nothing to roll back to: the flip never took its snapshot."""


def run_rollback(
    *,
    snapshot_path: Path,
    sessions: SessionFactory | None,
    audit: AuditLog | None,
    state: RunState | None,
    save_state: Callable[[], None] | None,
    deadline_s: float,
    sleep: Callable[[float], None] = time.sleep,
    on_attempt: Callable[[int, str], None] | None = None,
    flip_steps: tuple[str, ...] = (),
) -> RollbackResult:
    """Roll DNS back to the snapshot. With `sessions=None`, the snapshot's own account is used."""
    if not snapshot_path.exists():
        raise NoSnapshotError(f"no DNS snapshot at {snapshot_path}: the flip has not run")
    snapshot = Snapshot.load(snapshot_path)
    if sessions is None:
        sessions = SessionFactory({snapshot.account_name: Account(**snapshot.account)})
    if audit is not None:
        audit.record(
            "rollback.intent",
            zone_id=snapshot.zone_id,
            name=snapshot.name,
            type=snapshot.type,
            record_sets=snapshot.record_sets,
            deadline_s=deadline_s,
        )
    try:
        client = sessions.client(snapshot.account_name, "route53", config=ROLLBACK_CLIENT_CONFIG)
        result = rollback(
            snapshot,
            client,
            state_dir=snapshot_path.parent,
            deadline_s=deadline_s,
            sleep=sleep,
            on_attempt=on_attempt,
        )
    except Exception as exc:  # credentials, a bad snapshot: still end with a clear outcome
        from runbook.dns import manual_command, write_rollback_batch

        command = manual_command(snapshot, write_rollback_batch(snapshot, snapshot_path.parent))
        result = RollbackResult(False, 0, f"rollback NOT confirmed: {exc}", command)
    if audit is not None:
        audit.record(
            "rollback.outcome",
            confirmed=result.confirmed,
            attempts=result.attempts,
            summary=result.message,
            change_id=result.change_id,
            read_back=result.read_back,
            errors=result.errors[-10:],
            manual_command=None if result.confirmed else result.manual_command,
        )
    if state is not None and save_state is not None:
        state.dns.rolled_back_at = utcnow()
        state.dns.rollback_confirmed = result.confirmed
        if result.confirmed:
            state.dns.flipped_at = None
            for step_id in flip_steps:  # the flip may be offered again
                saved = state.step(step_id)
                saved.status = "pending"
                saved.note = "rolled back"
        save_state()
    return result


def state_from_disk(state_dir: Path) -> tuple[StateStore, RunState]:
    store = StateStore(state_dir / "state.json")
    return store, store.load()
