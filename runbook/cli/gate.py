"""`check` and `do`: a step's gate headless, and its action after the gate."""

from __future__ import annotations

import argparse
import difflib
import json
import shlex
import sys

from runbook.acting import LeaseLost, acting_elsewhere
from runbook.cli.output import (
    EXIT_BREACH,
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNRECORDED,
    UsageError,
    confirm,
    print_head,
    print_outcomes,
    progress_printer,
)
from runbook.cli.waive import waive_from_args, wants_waiver
from runbook.dns.rollback import manual_command
from runbook.dns.snapshot import Snapshot
from runbook.engine import MIN_WAIVER_CHARS, Engine, GateNotPassed, OutcomeNotRecorded
from runbook.formatting import printable
from runbook.loader import load
from runbook.model import ManualAction
from runbook.preview import preview_text
from runbook.runner import CheckOutcome, gate_passes
from runbook.runtime import Runtime
from runbook.waivers import failing_blocking


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


def _breached(runtime: Runtime, path: str, details: dict[str, object]) -> int:
    """A watch criterion breached: say where the evidence is, and how to roll back."""
    print(
        f"BREACH of {details.get('criterion')}: the evidence is audit record "
        f"seq {details.get('breach_seq')} in {runtime.audit.path}",
        file=sys.stderr,
    )
    if details.get("rollback") == "offered":
        print(
            f"To roll DNS back to the source:\n  runbook rollback -f {shlex.quote(path)}",
            file=sys.stderr,
        )
    elif details.get("manual_command"):
        print(f"Roll DNS back by hand:\n  {details['manual_command']}", file=sys.stderr)
    return EXIT_BREACH


def cmd_check(args: argparse.Namespace) -> int:
    if args.step is not None:
        refuse_unknown_step(args.file, args.step)
    runtime, engine = open_run(args.file)
    try:
        steps = engine.step_ids if args.step is None else [args.step]
        if not args.json and not _accounts_answer(engine):
            return EXIT_FAIL
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


def _accounts_answer(engine: Engine) -> bool:
    """Ask each account who we are first: when one cannot answer (dead endpoint, missing
    profile, a role that cannot be assumed), every check would fail the same way, so
    say it once per account instead, and run none. Audited like the app's start-up."""
    findings = engine.verify_identity()
    if all(f.error is None for f in findings):
        return True
    for f in findings:
        if f.error is not None:
            mark, said = "ERROR", f.error
        elif f.ok:
            mark, said = "PASS", f"answers as {f.arn}"
        else:
            mark, said = "FAIL", f"the credentials reach account {f.actual} ({f.arn})"
        print(printable(f"{mark:<5} {f.account} account {f.expected}: {said}"))
    print("runbook: no checks run: not every account answers (above)", file=sys.stderr)
    return False


def refuse_unknown_step(path: str, step: str) -> None:
    """An unknown step changes nothing on disk: checked before the run is opened (which
    creates the state directory and audits the session)."""
    ids = [s.id for s in load(path).model.steps]
    if step not in ids:
        close = difflib.get_close_matches(step, ids, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        raise UsageError(
            f"unknown step {step!r}{hint} Steps are: {', '.join(ids)}. Nothing was written."
        )


def _refuse_bad_input(args: argparse.Namespace) -> None:
    """An unknown step or an empty waiver: refused before anything is written."""
    refuse_unknown_step(args.file, args.step)
    if args.waive is not None and len(args.waive.strip()) < MIN_WAIVER_CHARS:
        raise UsageError(
            f"--waive needs a typed reason of at least {MIN_WAIVER_CHARS} characters. "
            "Nothing was written."
        )


def cmd_do(args: argparse.Namespace) -> int:
    _refuse_bad_input(args)
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
        waiving = not gate.passed
        if waiving and not wants_waiver(args):
            # Name what blocks: a skipped check prints no FAIL line to point at.
            blocking = ", ".join(
                f"{o.check} {o.result.status.value}" for o in failing_blocking(gate.outcomes)
            )
            print(
                f"gate not passed for {step.id} ({blocking or 'see above'}); nothing changed "
                "(fix and run it again, or --waive REASON)",
                file=sys.stderr,
            )
            return EXIT_FAIL
        if (holder := acting_elsewhere(runtime)) is not None:
            # Refused before any waiver or question: nothing of this attempt is recorded
            # as if it went ahead (`engine.do` refuses again if one starts meanwhile).
            held = f"the run's lease is held by {holder.describe()}"
            runtime.audit.record("action.refused", step=step.id, reason=held)
            print(
                f"not done: {held}; nothing changed (see `runbook lease show`)",
                file=sys.stderr,
            )
            return EXIT_FAIL
        allowed, reason = engine.can_act(step.id)
        if not allowed and not (waiving and reason.startswith("gate not passed")):
            # What a waiver cannot settle (step order, already done) is said before the
            # question and before any waiver is recorded; audited as `engine.do` would.
            runtime.audit.record("action.refused", step=step.id, reason=reason)
            print(f"not done: {reason}; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        if isinstance(step.action, ManualAction):
            question = f"Confirm: {step.action.confirm}"
        else:
            env = runtime.model.migration.environment
            question = f"{step.action.label}: step {step.id!r} ({env})?"
        if waiving:
            question = f"{question.rstrip('?')}, waiving its failing checks?"
        if not args.yes and (preview := preview_text(runtime, step)) is not None:
            print(preview)  # what will change, read now: the app's dialog says the same
        if not confirm(question, args.yes):
            runtime.audit.record("action.not_confirmed", step=step.id)
            print("not confirmed; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        if waiving:  # only once the operator has said go: a declined `do` waives nothing
            try:
                engine.require_identity()  # so that the waiver names who gave it, AWS identity too
            except GateNotPassed as exc:
                print(f"not done: {exc}", file=sys.stderr)
                return EXIT_FAIL
            waive_from_args(engine, step.id, args)  # prints each check it waived, and why
        try:
            outcome = engine.do(step.id, confirmed=True, progress=progress_printer())
        except GateNotPassed as exc:
            print(f"not done: {exc}; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        except LeaseLost as exc:
            print(f"paused: {exc}; its intent stays open for the next `do`", file=sys.stderr)
            return EXIT_FAIL
        except OutcomeNotRecorded as exc:
            return _unrecorded(runtime, exc)
        print(("done: " if outcome.ok else "FAILED: ") + outcome.summary)
        if outcome.details.get("breached"):
            return _breached(runtime, args.file, outcome.details)
        return EXIT_OK if outcome.ok else EXIT_FAIL
    finally:
        print_head(runtime)
        runtime.close()
