"""`do --waive`: what a headless waiver must say, and printing what it waived.

`--waive REASON` (the DESIGN contract) covers every failing blocking check in a
rehearsal, and the single failing one in production. In production, each of
several failing checks needs its own `--waive-check CHECK=REASON`; waiving the
flip's gate there also needs `--confirm-environment NAME` (or the name typed at
the prompt when there is a terminal). `--yes` never stands in for either: it
answers the action's y/N question, not the waiver's.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from runbook.cli.output import UsageError
from runbook.waivers import (
    MIN_WAIVER_CHARS,
    WaiverRefused,
    WaiverRequest,
    failing_blocking,
    needs_environment_typed,
)

if TYPE_CHECKING:  # main.py parses with this module: the engine loads only for `do`
    from runbook.engine import Engine


def waive_check_arg(text: str) -> tuple[str, str]:
    """`CHECK=REASON`, refused by argparse (exit 2, nothing written) when malformed."""
    check, sep, reason = text.partition("=")
    if not sep or not check.strip():
        raise argparse.ArgumentTypeError(f"expected CHECK=REASON, e.g. dns.ttl='why'; got {text!r}")
    if len(reason.strip()) < MIN_WAIVER_CHARS:
        raise argparse.ArgumentTypeError(
            f"the reason for {check.strip()} needs at least {MIN_WAIVER_CHARS} typed characters"
        )
    return check.strip(), reason.strip()


def wants_waiver(args: argparse.Namespace) -> bool:
    return args.waive is not None or bool(args.waive_check)


def _typed_environment(engine: Engine, step_id: str, given: str | None) -> str | None:
    if given is not None or not needs_environment_typed(engine.rt.model, step_id):
        return given
    if not sys.stdin.isatty():
        return None  # refused by the rules below, with what to pass
    env = engine.rt.model.migration.environment
    return input(f"Waiving the flip's gate in {env}: type the environment name to go on: ")


def waive_from_args(engine: Engine, step_id: str, args: argparse.Namespace) -> None:
    """Record the waiver the options describe and print what it covered, or UsageError."""
    request = WaiverRequest(
        reason=args.waive or "",
        reasons=dict(args.waive_check or []),
        typed_environment=_typed_environment(engine, step_id, args.confirm_environment),
    )
    try:
        waived = engine.waive(step_id, request)
    except WaiverRefused as exc:
        gate = engine.gate(step_id)
        failing = [o.check for o in failing_blocking(gate.outcomes if gate else [])]
        hint = ""
        if "own reason" in str(exc):
            hint = " (" + " ".join(f"--waive-check {c}=REASON" for c in failing) + ")"
        elif "environment" in str(exc):
            hint = f" (--confirm-environment {engine.rt.model.migration.environment})"
        raise UsageError(f"waiver refused: {exc}{hint}. Nothing was waived or sent") from None
    print(f"gate of {step_id} waived: {len(waived)} failing blocking check(s)")
    for item in waived:
        print(f"  {item['check']} {item['status'].upper()}: {item['summary']}")
        print(f"    reason: {item['reason']}")
