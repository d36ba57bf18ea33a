"""`check` and `do`: a step's gate headless, and its action after the gate."""

from __future__ import annotations

import argparse
import json
import sys

from runbook.cli.output import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNRECORDED,
    UsageError,
    confirm,
    print_head,
    print_outcomes,
    progress_printer,
)
from runbook.dns.rollback import manual_command
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine, GateNotPassed, OutcomeNotRecorded
from runbook.model import ManualAction
from runbook.runner import CheckOutcome, gate_passes
from runbook.runtime import Runtime


def open_run(path: str) -> tuple[Runtime, Engine]:
    runtime = Runtime.open(path)
    return runtime, Engine(runtime)


def _unrecorded(runtime: Runtime, exc: OutcomeNotRecorded) -> int:
    """Sent, but not written down: say what was sent and how to undo it by hand."""
    print(f"STATE UNKNOWN: {exc.outcome.summary}", file=sys.stderr)
    print(f"the outcome could not be recorded: {exc.cause}", file=sys.stderr)
    try:
        snapshot = Snapshot.load(runtime.snapshot_path)
    except (OSError, ValueError):
        return EXIT_UNRECORDED
    print(f"To roll DNS back by hand:\n  {manual_command(snapshot)}", file=sys.stderr)
    return EXIT_UNRECORDED


def cmd_check(args: argparse.Namespace) -> int:
    runtime, engine = open_run(args.file)
    try:
        steps = engine.step_ids
        if args.step is not None:
            if args.step not in steps:
                raise UsageError(f"unknown step {args.step!r}; steps are: {', '.join(steps)}")
            steps = [args.step]
        outcomes: list[CheckOutcome] = []
        for step_id in steps:
            if runtime.model.step(step_id).checks:
                outcomes.extend(engine.run_gate(step_id).outcomes)
        if args.json:
            print(json.dumps([o.to_json() for o in outcomes], indent=2))
        else:
            print_outcomes(outcomes)
        return EXIT_OK if gate_passes(outcomes) else EXIT_FAIL
    finally:
        print_head(runtime)
        runtime.close()


def cmd_do(args: argparse.Namespace) -> int:
    runtime, engine = open_run(args.file)
    try:
        try:
            step = runtime.model.step(args.step)
        except KeyError:
            steps = ", ".join(engine.step_ids)
            raise UsageError(f"unknown step {args.step!r}; steps are: {steps}") from None
        for message in engine.reconcile():
            print(f"resumed: {message}")
        if args.waive is not None and not args.waive.strip():
            raise UsageError("--waive needs a reason")
        gate = engine.run_gate(step.id)
        print_outcomes(gate.outcomes)
        if not gate.passed:
            if args.waive is None:
                print(f"gate not passed for {step.id}; nothing changed", file=sys.stderr)
                return EXIT_FAIL
            engine.waive(step.id, args.waive)
            print(f"gate waived: {args.waive}")
        if isinstance(step.action, ManualAction):
            question = f"Confirm: {step.action.confirm}"
        else:
            env = runtime.model.migration.environment
            question = f"Run {step.action.kind} for step {step.id!r} ({env})?"
        if not confirm(question, args.yes):
            runtime.audit.record("action.not_confirmed", step=step.id)
            print("not confirmed; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        try:
            outcome = engine.do(step.id, confirmed=True, progress=progress_printer())
        except GateNotPassed as exc:
            print(f"not done: {exc}; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        except OutcomeNotRecorded as exc:
            return _unrecorded(runtime, exc)
        print(("done: " if outcome.ok else "FAILED: ") + outcome.summary)
        return EXIT_OK if outcome.ok else EXIT_FAIL
    finally:
        print_head(runtime)
        runtime.close()
