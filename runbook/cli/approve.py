"""`approve STEP [--reason TEXT]`: a second AWS principal approves a step (two-person rule)."""

from __future__ import annotations

import argparse
import sys

from runbook import approvals
from runbook.cli.gate import refuse_unknown_step
from runbook.cli.output import EXIT_FAIL, EXIT_OK, print_head
from runbook.engine import GATE_MAX_AGE_S
from runbook.runtime import Runtime


def cmd_approve(args: argparse.Namespace) -> int:
    refuse_unknown_step(args.file, args.step)  # before the run is opened: nothing written
    runtime = Runtime.open(args.file)
    try:
        # Who approves is the AWS principal, never a local name: a different STS caller ARN.
        approver = str(runtime.sessions.identity("target")["Arn"])
        runtime.audit.set_operator(aws_arn=approver)
        decision = approvals.approve(
            runtime, args.step, approver, args.reason, max_age_s=GATE_MAX_AGE_S
        )
        print(decision.message, file=sys.stdout if decision.ok else sys.stderr)
        return EXIT_OK if decision.ok else EXIT_FAIL
    finally:
        print_head(runtime)
        runtime.close()
