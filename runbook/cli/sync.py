"""`sync`: push what this machine wrote while the run backend was unreachable;
`audit verify s3://BUCKET/PREFIX`: the shared log verified from S3."""

from __future__ import annotations

import argparse
import contextlib
import sys

from runbook.backend import S3Backend, open_backend
from runbook.backend.chain import verify_shared
from runbook.backend.follow import RunFollower
from runbook.backend.store import (
    S3_CONFIG,
    BackendError,
    BackendUnavailable,
    NotFound,
    ObjectStore,
    S3Location,
)
from runbook.cli.output import EXIT_FAIL, EXIT_OK, UsageError
from runbook.files import AUDIT_FILE, SHARED_AUDIT_FILE, STATE_FILE
from runbook.loader import load
from runbook.state import StateStore


def cmd_sync(args: argparse.Namespace) -> int:
    loaded = load(args.file)
    from runbook.aws.session import SessionFactory

    backend = open_backend(loaded.model, SessionFactory(loaded.model.accounts), loaded.state_dir)
    if not isinstance(backend, S3Backend):
        raise UsageError("the runbook has no [migration.backend]: there is nothing to sync")
    mirror = StateStore(loaded.state_dir / STATE_FILE)  # the local file alone, no remote
    report = backend.sync(loaded.state_dir / AUDIT_FILE, mirror)
    if report.error is None:  # and the shared chain mirrored here, which vouches for the
        with contextlib.suppress(OSError):  # snapshot when the flip was on another machine
            RunFollower(backend, loaded.state_dir).poll()
            report.notes.append(f"mirrored the shared audit chain into {SHARED_AUDIT_FILE}")
    for note in report.notes:
        print(note)
    if report.error is not None:
        still = "some" if report.pending < 0 else str(report.pending)
        print(
            f"{backend.description} did not answer ({report.error}): pushed {report.pushed}, "
            f"{still} record(s) still only on this machine; run `runbook sync` again",
            file=sys.stderr,
        )
        return EXIT_FAIL
    print(
        f"in sync with {backend.description}: pushed {report.pushed} record(s) written "
        "on this machine while they could not be (each marked late, with why)"
        if report.pushed
        else f"in sync with {backend.description}: nothing was waiting"
    )
    return EXIT_OK


def cmd_audit_s3(args: argparse.Namespace) -> int:
    """`audit verify s3://...` on the SDK's own credentials (AWS_PROFILE, SSO, ...)."""
    if args.audit_command != "verify":
        raise UsageError(f"`audit {args.audit_command}` reads a local file; run `runbook sync`")
    from runbook.aws.session import ambient_client

    store = ObjectStore(ambient_client("s3", config=S3_CONFIG), S3Location.parse(args.path))
    try:
        report = verify_shared(store)
    except (BackendUnavailable, BackendError, NotFound) as exc:
        print(f"{args.path}: cannot be read: {exc}", file=sys.stderr)
        return EXIT_FAIL
    for line in report.lines:
        print(line)
    for problem in report.problems:
        print(f"BROKEN: {problem}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAIL
