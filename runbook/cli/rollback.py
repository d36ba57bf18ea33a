"""`rollback`: DNS back to the pre-flip snapshot, from any shell, never waiting.

It needs the snapshot and credentials, and nothing else: a broken runbook, a
corrupt state file or an audit log that cannot be appended to is reported and
worked around, never a reason not to roll back. The run's lease is not taken.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from runbook.audit.log import AuditCorruptError, AuditLog, AuditWriteError
from runbook.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNRECORDED,
    EXIT_USAGE,
    confirm,
    print_rollback,
)
from runbook.dns.rollback import NoSnapshotError, manual_command, run_rollback
from runbook.dns.snapshot import (
    SNAPSHOT_FILE,
    Snapshot,
    SnapshotUnusable,
    trusted_snapshot,
)
from runbook.loader import RunbookError
from runbook.model import Runbook
from runbook.state import StateStore

AUDIT_FILE = "audit.jsonl"
STATE_FILE = "state.json"
DEFAULT_DEADLINE_S = 120.0
STATE_DIR_LINE = re.compile(r'^\s*state_dir\s*=\s*"([^"\n]+)"', re.MULTILINE)


@dataclass
class Located:
    state_dir: Path
    model: Runbook | None


def _locate(args: argparse.Namespace) -> Located:
    """The state directory: --state-dir, the runbook's, or as much of it as still parses."""
    from runbook.loader import load

    try:
        loaded = load(args.file)
    except RunbookError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print("runbook unusable; rolling back from the snapshot alone", file=sys.stderr)
        if args.state_dir:
            return Located(Path(args.state_dir), None)
        return Located(_state_dir_from_text(Path(args.file)), None)
    state_dir = Path(args.state_dir) if args.state_dir else loaded.state_dir
    return Located(state_dir, loaded.model)


def _state_dir_from_text(path: Path) -> Path:
    """`[migration] state_dir` as far as the file still says it, else `.runbook` beside it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = ""
    try:
        configured = tomllib.loads(text).get("migration", {}).get("state_dir")
    except (ValueError, AttributeError):
        # Not TOML any more: the line itself may still be intact.
        found = STATE_DIR_LINE.search(text)
        configured = found.group(1) if found else None
    state = Path(configured) if isinstance(configured, str) and configured else Path(".runbook")
    return state if state.is_absolute() else path.parent / state


def _audit(state_dir: Path, run_id: str, environment: str) -> AuditLog | None:
    """The run's audit log, or a fresh side log beside it when it cannot be appended to."""
    operator = {"local_user": _local_user(), "aws_arn": None}
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


def _local_user() -> str:
    from runbook.runtime import local_user

    return local_user()


def _state(state_dir: Path) -> tuple[str, StateStore | None]:
    """(run id, the state store) when the state file is readable; else a report and None."""
    store = StateStore(state_dir / STATE_FILE)
    try:
        return store.load().run_id, store
    except FileNotFoundError:
        return "unknown", None
    except (OSError, ValueError) as exc:
        print(f"the run state is unreadable ({exc}); it will not be updated", file=sys.stderr)
        return "unknown", None


def cmd_rollback(args: argparse.Namespace) -> int:
    located = _locate(args)
    state_dir = located.state_dir
    snapshot_path = state_dir / SNAPSHOT_FILE
    audit_path = state_dir / AUDIT_FILE
    try:
        snapshot, note = trusted_snapshot(snapshot_path, audit_path)
    except FileNotFoundError:
        print(f"no DNS snapshot at {snapshot_path}: the flip has not run", file=sys.stderr)
        return EXIT_USAGE
    except SnapshotUnusable as exc:
        print(f"cannot roll back: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if note:
        print(f"note: {note}", file=sys.stderr)
    if not confirm(_rollback_question(snapshot), args.yes):
        print(
            f"not confirmed; nothing sent. By hand:\n  {manual_command(snapshot)}", file=sys.stderr
        )
        return EXIT_FAIL
    run_id, store = _state(state_dir)
    model = located.model
    audit = _audit(state_dir, run_id, model.migration.environment if model else "unknown")
    sessions = None
    if model is not None:
        from runbook.aws.session import SessionFactory

        sessions = SessionFactory(model.accounts)
    try:
        result = run_rollback(
            snapshot_path=snapshot_path,
            sessions=sessions,
            audit=audit,
            update_state=store.update if store is not None else None,
            deadline_s=model.settings.rollback_deadline_s if model else DEFAULT_DEADLINE_S,
            flip_steps=tuple(
                s.id for s in (model.steps if model else []) if s.action.kind == "dns.flip"
            ),
            audit_path=audit_path,
            best_effort_records=True,
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
    if result.unrecorded:
        # Sent, but the evidence is incomplete: the run's files no longer say what DNS is.
        for problem in result.unrecorded:
            print(f"NOT RECORDED: {problem}", file=sys.stderr)
        print(f"If in doubt, by hand:\n  {manual_command(snapshot)}", file=sys.stderr)
        return EXIT_UNRECORDED
    return EXIT_OK if result.confirmed else EXIT_FAIL


def _rollback_question(snapshot: Snapshot) -> str:
    from runbook.dns.records import describe_set

    values = "; ".join(describe_set(rs) for rs in snapshot.record_sets)
    return f"Roll {snapshot.label} back to the snapshot ({values})?"
