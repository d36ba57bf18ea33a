"""`rollback`: DNS back to the pre-flip snapshot, from any shell, never waiting."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runbook.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    confirm,
    print_head,
    print_rollback,
)
from runbook.dns.snapshot import Snapshot
from runbook.loader import RunbookError


def cmd_rollback(args: argparse.Namespace) -> int:
    from runbook.dns.rollback import NoSnapshotError, run_rollback
    from runbook.runtime import Runtime

    try:
        runtime = Runtime.open(args.file)
    except RunbookError as exc:
        # The runbook may be broken at the worst moment; the snapshot carries its account.
        fallback = Path(args.file).parent / ".runbook" / "dns-snapshot.json"
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if not fallback.exists():
            return EXIT_USAGE
        print(f"runbook unusable; rolling back from {fallback} alone", file=sys.stderr)
        snapshot = Snapshot.load(fallback)
        if not confirm(_rollback_question(snapshot), args.yes):
            return EXIT_FAIL
        result = run_rollback(
            snapshot_path=fallback,
            sessions=None,
            audit=None,
            update_state=None,
            deadline_s=120.0,
        )
        print_rollback(result)
        return EXIT_OK if result.confirmed else EXIT_FAIL
    try:
        if not runtime.snapshot_path.exists():
            print(
                f"no DNS snapshot at {runtime.snapshot_path}: the flip has not run", file=sys.stderr
            )
            return EXIT_USAGE
        snapshot = Snapshot.load(runtime.snapshot_path)
        if not confirm(_rollback_question(snapshot), args.yes):
            runtime.audit.record("rollback.not_confirmed")
            from runbook.dns.rollback import manual_command

            command = manual_command(snapshot)
            print(f"not confirmed; nothing sent. By hand:\n  {command}", file=sys.stderr)
            return EXIT_FAIL
        try:
            result = runtime.rollback()
        except NoSnapshotError as exc:
            raise UsageError(str(exc)) from None
        print_rollback(result)
        return EXIT_OK if result.confirmed else EXIT_FAIL
    finally:
        print_head(runtime)
        runtime.close()


def _rollback_question(snapshot: Snapshot) -> str:
    values = "; ".join(
        json.dumps(rs.get("ResourceRecords") or rs.get("AliasTarget"))
        for rs in snapshot.record_sets
    )
    return f"Roll {snapshot.name} {snapshot.type} back to the snapshot ({values})?"
