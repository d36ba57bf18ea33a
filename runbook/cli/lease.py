"""`lease show|break`: who holds the run's action lease; break a stuck one (audited)."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from runbook.audit.record import EventName
from runbook.cli.output import EXIT_FAIL, EXIT_OK, UsageError, print_head
from runbook.lease import MIN_REASON_CHARS, RunLease
from runbook.loader import load


def _lease(file: str) -> RunLease:
    """The run's lease where the run keeps it: S3 for a team run, else the state dir.
    Reading it opens no run (no session record): `show` changes nothing."""
    from runbook.aws.session import SessionFactory
    from runbook.backend import open_backend

    loaded = load(file)
    sessions = SessionFactory(loaded.model.accounts)
    return open_backend(loaded.model, sessions, loaded.state_dir).lease()


def cmd_lease(args: argparse.Namespace) -> int:
    if args.lease_command == "show":
        holder = _lease(args.file).current()
        if holder is None:
            print("nobody holds the run's lease")
            return EXIT_OK
        state = "alive" if holder.alive() else "DEAD: the next action takes it over"
        print(f"held by {holder.describe()} ({state})")
        print(f"  last heartbeat {time.time() - holder.heartbeat:.0f}s ago")
        return EXIT_OK
    reason = (args.reason or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        raise UsageError(f"--reason needs at least {MIN_REASON_CHARS} characters; nothing changed")
    from runbook.runtime import Runtime

    runtime = Runtime.open(args.file)
    try:
        lease = runtime.backend.lease() if runtime.backend else RunLease(runtime.state_dir)
        broken = lease.break_()
        if broken is None:
            print("nothing to break: nobody holds the run's lease")
            return EXIT_FAIL
        runtime.audit.record(EventName.LEASE_BROKEN, previous=asdict(broken), reason=reason)
        print(f"broke the lease of {broken.describe()}")
        return EXIT_OK
    finally:
        print_head(runtime)
        runtime.close()
