"""The one rollback: UPSERT the snapshot until INSYNC and read back equal, audited.

Its Route 53 client has botocore's retries off so that the bounded, jittered
loop here is the only retry policy; it shares nothing with the app's other
workers but the audit log and the run state.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shlex
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.audit.log import AuditLog, AuditWriteError
from runbook.aws.errors import is_retryable
from runbook.aws.session import account_label, core_client
from runbook.dns.records import change_batch, read_record_sets, same_sets, strip_set
from runbook.dns.rollback_inputs import AccountRef
from runbook.dns.rollback_state import apply_patch, rollback_patch
from runbook.dns.snapshot import Snapshot, trusted_snapshot
from runbook.formatting import error_line, plural

if TYPE_CHECKING:  # `runbook rollback` builds no factory and no model (rollback_inputs)
    from botocore.config import Config

    from runbook.aws.session import SessionFactory


def rollback_client_config() -> Config:
    """The rollback client does no retries of its own: its loop below owns them, so
    a retry quota drained by other clients can never stop a rollback. botocore's
    config loads with the client, not with this module (the app paints first)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},  # max_attempts counts retries only
        connect_timeout=3,
        read_timeout=8,
    )


@dataclass
class RollbackResult:
    confirmed: bool
    attempts: int
    message: str
    manual_command: str
    change_id: str | None = None
    read_back: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    """Records (audit, state) that could not be written: what was sent is then unrecorded."""


def reached_by(snapshot: Snapshot, account: dict[str, Any] | None) -> Snapshot:
    """The snapshot with this machine's way to its zone's account, when it has one."""
    return dataclasses.replace(snapshot, account=dict(account)) if account else snapshot


def manual_command(snapshot: Snapshot) -> str:
    """The rollback by hand, as one bash command that works as printed.

    Built in memory (a full disk must not cost the operator the command): the
    change batch is inline. For a DNS account reached by a role, the command
    assumes it first, with its external ID, in a subshell, so the operator's own
    base credentials are all it needs and nothing leaks into their shell.
    """
    batch = json.dumps(
        change_batch(snapshot.record_sets, "runbook rollback to pre-flip snapshot"),
        separators=(",", ":"),
        sort_keys=True,
    )
    profile = snapshot.account.get("profile")
    change = ["aws", "route53", "change-resource-record-sets"]
    change += ["--hosted-zone-id", snapshot.zone_id, "--change-batch", batch]
    role = snapshot.account.get("role_arn")
    if not role:
        return shlex.join(change + (["--profile", profile] if profile else []))
    assume = ["aws", "sts", "assume-role", "--role-arn", role]
    assume += ["--role-session-name", "runbook-manual-rollback"]
    if snapshot.account.get("external_id"):
        assume += ["--external-id", snapshot.account["external_id"]]
    assume += ["--query", "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]"]
    assume += ["--output", "text"] + (["--profile", profile] if profile else [])
    keys = "AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN"
    return f"( read -r {keys} < <({shlex.join(assume)}) && export {keys} && {shlex.join(change)} )"


def rollback(
    snapshot: Snapshot,
    client: Any,
    *,
    deadline_s: float = 120.0,
    poll_s: float = 2.0,
    base_backoff_s: float = 0.2,
    max_backoff_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
    on_attempt: Callable[[int, str], None] | None = None,
) -> RollbackResult:
    """UPSERT the snapshot until it is INSYNC and reads back equal, or the deadline passes.

    Only UPSERTs of the saved sets are sent, so every retry is safe to repeat.
    Retries use full jitter (a random wait up to an exponential cap).
    """
    command = manual_command(snapshot)
    end = clock() + deadline_s
    attempts = 0
    errors: list[str] = []
    change_id: str | None = None
    read_back: list[dict[str, Any]] = []
    while True:
        attempts += 1
        try:
            if change_id is None:
                response = client.change_resource_record_sets(
                    HostedZoneId=snapshot.zone_id,
                    ChangeBatch=change_batch(snapshot.record_sets, "runbook rollback"),
                )
                change_id = str(response["ChangeInfo"]["Id"])
                if on_attempt:
                    on_attempt(attempts, f"change {change_id} accepted")
            status = str(client.get_change(Id=change_id)["ChangeInfo"]["Status"])
            if status == "INSYNC":
                read_back = [
                    strip_set(rs)
                    for rs in read_record_sets(
                        client, snapshot.zone_id, snapshot.name, snapshot.types
                    )
                ]
                if same_sets(read_back, snapshot.record_sets):
                    return RollbackResult(
                        True,
                        attempts,
                        "rollback confirmed: records read back equal the snapshot",
                        command,
                        change_id,
                        read_back,
                        errors,
                    )
                errors.append("read-back differs from the snapshot; sending the UPSERT again")
                change_id = None
            delay = poll_s
        except Exception as exc:
            if not is_retryable(exc):
                errors.append(error_line(exc))
                return RollbackResult(
                    False,
                    attempts,
                    f"rollback NOT confirmed: {error_line(exc, with_type=False)}",
                    command,
                    change_id,
                    read_back,
                    errors,
                )
            errors.append(f"attempt {attempts}: {error_line(exc)}")
            if on_attempt:
                on_attempt(attempts, f"retrying after {error_line(exc)}")
            delay = rng() * min(max_backoff_s, base_backoff_s * 2 ** min(attempts, 10))
        remaining = end - clock()
        if remaining <= 0:
            return RollbackResult(
                False,
                attempts,
                f"rollback NOT confirmed within {deadline_s:.0f}s ({plural(attempts, 'attempt')})",
                command,
                change_id,
                read_back,
                errors,
            )
        sleep(min(delay, remaining))


class NoSnapshotError(RuntimeError):
    """There is nothing to roll back to: the flip never took its snapshot."""


def run_rollback(
    *,
    snapshot_path: Path,
    sessions: SessionFactory | None,
    audit: AuditLog | None,
    update_state: Callable[[Callable[[Any], object]], object] | None,
    deadline_s: float,
    sleep: Callable[[float], None] = time.sleep,
    on_attempt: Callable[[int, str], None] | None = None,
    flip_steps: tuple[str, ...] = (),
    audit_path: Path | None = None,
    best_effort_records: bool = False,
    client_for: Callable[[Snapshot], Any] | None = None,
    reached_as: Callable[[str], dict[str, Any] | None] | None = None,
) -> RollbackResult:
    """Roll DNS back to the snapshot. With `sessions=None`, the snapshot's own account is used.

    `reached_as` gives this machine's way to the zone's account (its runbook's table),
    which the command by hand then uses: on a team run the snapshot may come from
    another person's machine, whose role this one may not be allowed to assume.

    `client_for` gives the Route 53 client for the snapshot's account instead of
    `sessions` (a client prepared off the key's path, or the command's lean one);
    either way it is asked for after the intent is recorded, as a client always was.
    `update_state` applies a change to the run state: a `RunState` (the app's
    `Runtime.update_state`) or the state file's JSON (`rollback_state.JsonStateFile`).

    `audit_path` is the log whose `dns.snapshot_saved` record vouches for the
    snapshot file (it may differ from where `audit` writes, after a failure).
    With `best_effort_records` (the `runbook rollback` command), a record that
    cannot be written is reported in the result instead of stopping the
    rollback: at the worst moment, DNS comes first.
    """
    try:
        snapshot, note = trusted_snapshot(snapshot_path, audit_path)
    except FileNotFoundError:
        raise NoSnapshotError(f"no DNS snapshot at {snapshot_path}: the flip has not run") from None
    if reached_as is not None:
        snapshot = reached_by(snapshot, reached_as(snapshot.account_name))
    unrecorded: list[str] = []

    def record(event: str, **details: Any) -> None:
        if audit is None:
            unrecorded.append(f"{event}: no audit log could be opened")
            return
        try:
            audit.record(event, **details)
        except (AuditWriteError, OSError) as exc:
            if not best_effort_records:
                raise
            unrecorded.append(f"{event}: {exc}")

    record(
        "rollback.intent",
        zone_id=snapshot.zone_id,
        name=snapshot.name,
        type=snapshot.type,
        types=list(snapshot.types),
        record_sets=snapshot.record_sets,
        deadline_s=deadline_s,
        snapshot_note=note,
    )
    try:
        if client_for is not None:
            client = client_for(snapshot)
        elif sessions is not None:
            client = factory_client(sessions, snapshot.account_name)
        else:
            client = snapshot_client(snapshot)
        result = rollback(
            snapshot,
            client,
            deadline_s=deadline_s,
            sleep=sleep,
            on_attempt=on_attempt,
        )
    except Exception as exc:  # credentials, a bad snapshot: still end with a clear outcome
        command = manual_command(snapshot)
        result = RollbackResult(
            False, 0, f"rollback NOT confirmed: {error_line(exc, with_type=False)}", command
        )
    record(
        "rollback.outcome",
        confirmed=result.confirmed,
        attempts=result.attempts,
        summary=result.message,
        change_id=result.change_id,
        read_back=result.read_back,
        errors=result.errors[-10:],
        manual_command=None if result.confirmed else result.manual_command,
    )
    if update_state is not None:
        # The flip (and the steps from flip_steps) may be offered again once confirmed.
        patch = rollback_patch(result.confirmed, flip_steps, datetime.now(UTC))
        try:
            update_state(lambda state: apply_patch(state, patch))
        except (OSError, ValueError) as exc:
            if not best_effort_records:
                raise
            unrecorded.append(f"state: {exc}")
    result.unrecorded = unrecorded
    return result


def snapshot_client(snapshot: Snapshot, account: AccountRef | None = None) -> Any:
    """The rollback's client for the snapshot's account: as the runbook now says to reach
    it (`account`), else as the snapshot recorded it. Never through boto3 (`core_client`)."""
    reach = account if account is not None else AccountRef.recorded(snapshot.account)
    return core_client(
        reach,
        "route53",
        read_only=snapshot.account_name == "source",
        config=rollback_client_config(),
        label=account_label(snapshot.account_name, reach),
    )


def factory_client(sessions: SessionFactory, account_name: str) -> Any:
    """A new Route 53 client of the factory's, shared with nobody: the rollback's own."""
    return sessions.client(account_name, "route53", config=rollback_client_config())


class RollbackClient:
    """The rollback's client, built ahead in a thread (while its question is open), and
    taken by the next rollback alone, which then builds nothing between key and request.

    Built when asked for, not at start-up: a client copies its session's event handlers
    when it is made, so it sees what was registered up to the question.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: tuple[str, Future[Any]] | None = None

    def prepare(self, sessions: SessionFactory, account_name: str) -> None:
        with self._lock:
            if self._pending is not None:
                return
            future: Future[Any] = Future()
            self._pending = (account_name, future)

        def build() -> None:
            try:
                future.set_result(factory_client(sessions, account_name))
            except BaseException as exc:  # the rollback builds its own, and meets it there
                future.set_exception(exc)

        threading.Thread(target=build, name="rollback-client", daemon=True).start()

    def take(self, sessions: SessionFactory) -> Callable[[Snapshot], Any]:
        """`run_rollback`'s `client_for`: the prepared client if it fits, else a new one."""
        with self._lock:
            pending, self._pending = self._pending, None

        def client_for(snapshot: Snapshot) -> Any:
            if pending is not None and pending[0] == snapshot.account_name:
                try:
                    return pending[1].result()
                except Exception:
                    pass  # built again below: its error, if any, is the rollback's to report
            return factory_client(sessions, snapshot.account_name)

        return client_for
