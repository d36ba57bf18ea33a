"""`rollback`: DNS back to the pre-flip snapshot, from any shell, never waiting.

It needs the snapshot and credentials, and nothing else: a broken runbook, a
corrupt state file or an audit log that cannot be appended to is reported and
worked around, never a reason not to roll back. The run's lease is not taken.

Everything up to the recorded, printed outcome is lean: the runbook's few
fields are read without its models (`rollback_inputs`), the state is changed
as JSON (`rollback_state`) and the client comes straight from botocore
(`core_client`); no check, no pydantic, no boto3. What the rollback did not
undo is worked out only after that, from the whole runbook.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.audit.log import AuditCorruptError, AuditLog, AuditWriteError
from runbook.audit.operator import local_user
from runbook.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNRECORDED,
    EXIT_USAGE,
    confirm,
    print_rollback,
)
from runbook.dns.rollback import (
    NoSnapshotError,
    RollbackResult,
    manual_command,
    reached_by,
    run_rollback,
    snapshot_client,
)
from runbook.dns.rollback_inputs import (
    DEFAULT_DEADLINE_S,
    RollbackInputs,
    RunbookUnusable,
    read_inputs,
    state_dir_from_text,
)
from runbook.dns.rollback_state import JsonStateFile
from runbook.dns.snapshot import (
    SNAPSHOT_FILE,
    Snapshot,
    SnapshotUnusable,
    trusted_snapshot,
)
from runbook.files import AUDIT_FILE, STATE_FILE

if TYPE_CHECKING:  # the lean path imports neither
    from runbook.aws.session import SessionFactory
    from runbook.model import Runbook


@dataclass
class Located:
    state_dir: Path
    inputs: RollbackInputs | None


def _locate(args: argparse.Namespace) -> Located:
    """The state directory: --state-dir, the runbook's, or as much of it as still parses."""
    path = Path(args.file)
    try:
        inputs = read_inputs(path)
    except RunbookUnusable as exc:
        if path.exists() or args.state_dir:  # a missing one is said once, with the snapshot
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print("runbook unusable; rolling back from the snapshot alone", file=sys.stderr)
        if args.state_dir:
            return Located(Path(args.state_dir), None)
        return Located(state_dir_from_text(path), None)
    state_dir = Path(args.state_dir) if args.state_dir else inputs.state_dir
    return Located(state_dir, inputs)


def _audit(state_dir: Path, run_id: str, environment: str) -> AuditLog | None:
    """The run's audit log, or a fresh side log beside it when it cannot be appended to."""
    operator = {"local_user": local_user(), "aws_arn": None}
    try:
        return AuditLog(
            state_dir / AUDIT_FILE, run_id=run_id, environment=environment, operator=operator
        )
    except (AuditCorruptError, AuditWriteError, OSError) as exc:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        side = state_dir / f"audit-rollback-{stamp}.jsonl"
        print(f"the audit log cannot be appended to ({exc}); recording in {side}", file=sys.stderr)
        try:
            return AuditLog(side, run_id=run_id, environment=environment, operator=operator)
        except (AuditWriteError, OSError) as side_exc:
            print(f"no audit record can be written ({side_exc}); rolling back", file=sys.stderr)
            return None


def _state(state_dir: Path) -> tuple[str, JsonStateFile | None]:
    """(run id, the state file) when the state file is readable; else a report and None."""
    store = JsonStateFile(state_dir / STATE_FILE)
    try:
        return str(store.read().get("run_id", "unknown")), store
    except FileNotFoundError:
        return "unknown", None
    except (OSError, ValueError) as exc:
        print(f"the run state is unreadable ({exc}); it will not be updated", file=sys.stderr)
        return "unknown", None


def _no_snapshot(args: argparse.Namespace, snapshot_path: Path) -> str:
    """Why there is nothing to roll back from: no flip, or not the run's directory."""
    where = snapshot_path.absolute()
    if not args.state_dir and not Path(args.file).exists():
        # Not "the flip has not run": read at 3 a.m. from the wrong directory, it would be
        # taken for "nothing to roll back".
        return (
            f"no runbook at {Path(args.file).absolute()} and no DNS snapshot at {where}: "
            "this is not the run's directory; pass -f RUNBOOK (or --state-dir DIR). "
            "Nothing was changed"
        )
    return f"no DNS snapshot at {where}: this run has not flipped; nothing to roll back"


def cmd_rollback(args: argparse.Namespace) -> int:
    located = _locate(args)
    state_dir = located.state_dir
    snapshot_path = state_dir / SNAPSHOT_FILE
    audit_path = state_dir / AUDIT_FILE
    try:
        snapshot, note = trusted_snapshot(snapshot_path, audit_path)
    except FileNotFoundError:
        print(_no_snapshot(args, snapshot_path), file=sys.stderr)
        return EXIT_USAGE
    except SnapshotUnusable as exc:
        print(f"cannot roll back: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if note:
        print(f"note: {note}", file=sys.stderr)
    inputs = located.inputs

    def reached_as(name: str) -> dict[str, Any] | None:  # this runbook's way to the zone
        account = inputs.accounts.get(name) if inputs else None
        return dataclasses.asdict(account) if account is not None else None

    snapshot = reached_by(snapshot, reached_as(snapshot.account_name))  # the command by hand
    if not args.yes and not confirm(_rollback_question(snapshot), False):
        print(
            f"not confirmed; nothing sent. By hand:\n  {manual_command(snapshot)}", file=sys.stderr
        )
        return EXIT_FAIL
    run_id, store = _state(state_dir)
    audit = _audit(state_dir, run_id, inputs.environment if inputs else "unknown")
    written = _Kept()
    if audit is not None:
        audit.sinks.append(written)  # told to [notify] after the outcome, never before

    def client_for(snapshot: Snapshot) -> Any:
        # The zone's account as the runbook says to reach it now, else as the flip recorded.
        account = inputs.accounts.get(snapshot.account_name) if inputs else None
        return snapshot_client(snapshot, account)

    try:
        result = run_rollback(
            snapshot_path=snapshot_path,
            sessions=None,
            client_for=client_for,
            audit=audit,
            update_state=store.update if store is not None else None,
            deadline_s=inputs.deadline_s if inputs else DEFAULT_DEADLINE_S,
            flip_steps=inputs.reset_steps if inputs else (),
            audit_path=audit_path,
            best_effort_records=True,
            reached_as=reached_as,
            # Long work shows itself: against a dead endpoint the loop runs to its deadline.
            on_attempt=lambda n, text: print(f"attempt {n}: {text}", file=sys.stderr),
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: DNS may not be back on the source. By hand:\n  "
            f"{manual_command(snapshot)}",
            file=sys.stderr,
        )
        return 128 + 2
    except NoSnapshotError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    finally:
        if audit is not None:
            seq, digest = audit.head()
            print(f"audit head: seq {seq} hash {digest} ({audit.path.name})", file=sys.stderr)
            audit.close()
    print_rollback(result)
    # After the outcome: both read the whole runbook and reach AWS or a webhook.
    model, sessions = _aftermath(args, inputs is not None, state_dir, result)
    if model is not None and sessions is not None and model.notify is not None and written:
        _notify(model, sessions, state_dir, run_id, written)
    if result.unrecorded:
        # Sent, but the evidence is incomplete: the run's files no longer say what DNS is.
        for problem in result.unrecorded:
            print(f"NOT RECORDED: {problem}", file=sys.stderr)
        print(f"If in doubt, by hand:\n  {manual_command(snapshot)}", file=sys.stderr)
        return EXIT_UNRECORDED
    return EXIT_OK if result.confirmed else EXIT_FAIL


class _Kept(list[dict[str, Any]]):
    """An audit sink that keeps what the rollback wrote, for [notify] afterwards."""

    def push(self, record: dict[str, Any]) -> None:
        self.append(record)

    def close(self) -> None:
        pass


def _aftermath(
    args: argparse.Namespace, usable: bool, state_dir: Path, result: RollbackResult
) -> tuple[Runbook | None, SessionFactory | None]:
    """What a confirmed rollback did not undo, from the whole runbook, read only now;
    the runbook and its sessions, for the notification."""
    from runbook.aws.session import SessionFactory
    from runbook.cli.aftermath import print_aftermath
    from runbook.loader import RunbookError, load_model

    try:
        model = load_model(Path(args.file)) if usable else None
    except RunbookError:
        model = None  # what the rollback read was usable; the caveats say what they can
    sessions = SessionFactory(model.accounts) if model is not None else None
    sys.stdout.flush()  # the outcome is out before the count reads the target pool
    print_aftermath(model, state_dir, sessions, result)
    return model, sessions


def _notify(
    model: Runbook,
    sessions: SessionFactory,
    state_dir: Path,
    run_id: str,
    written: list[dict[str, Any]],
) -> None:
    """The rollback's intent and outcome to [notify], best effort, at most a few seconds
    (the records are durable already); a failed send is audited like the app's."""
    from runbook.notify import Notifier

    audit = _audit(state_dir, run_id, model.migration.environment)
    if audit is None:
        return
    notifier = Notifier(model, sessions, audit)
    try:
        for record in written:
            notifier.push(record)
    finally:
        notifier.close()
        audit.close()


def _rollback_question(snapshot: Snapshot) -> str:
    from runbook.dns.aftermath import QUESTION_NOTE
    from runbook.dns.records import describe_set

    values = "; ".join(describe_set(rs) for rs in snapshot.record_sets)
    return f"{QUESTION_NOTE}\nRoll {snapshot.label} back to the snapshot ({values})?"
