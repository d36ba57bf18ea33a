"""What every command prints: exit codes, one-line errors, gate results, the audit head."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from runbook.formatting import printable

if TYPE_CHECKING:  # `runbook rollback` prints through here: no check API, no pydantic
    from runbook.dns.rollback import RollbackResult
    from runbook.runner import CheckOutcome
    from runbook.runtime import Runtime

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_BREACH = 3  # a watch step's criterion breached
EXIT_UNRECORDED = 4  # something was sent, but its outcome could not be recorded
EXIT_PIPE = 128 + 13  # stdout's reader went away: the shell's code for death by SIGPIPE


class UsageError(Exception):
    """Bad input: printed as one line, exit 2."""


def print_head(runtime: Runtime, out: TextIO = sys.stderr) -> None:
    """The head as the file has it now: another process may have appended after us."""
    seq, digest = runtime.audit.head()
    print(f"audit head: seq {seq} hash {digest}", file=out)


# By `runbook.checkapi.Status` value (a StrEnum: its members look themselves up here).
_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "skipped": "SKIP"}


def print_outcomes(outcomes: list[CheckOutcome]) -> None:
    step = None
    for o in outcomes:
        if o.step != step:
            step = o.step
            print(f"[{step}]")
        kind = "" if o.blocking else " (advisory)"
        print(printable(f"  {_MARK[o.result.status]:<5} {o.check}{kind}: {o.result.summary}"))
        for line in o.result.details:
            print(f"        {printable(line)}")


def confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print(f"{question} -- not confirmed: no terminal to ask; pass --yes", file=sys.stderr)
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def progress_printer(every_s: float = 1.0) -> Callable[[float | None, str], None]:
    """Progress of long actions on stderr, at most once a second."""
    last = [0.0]

    def report(fraction: float | None, text: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s or fraction == 1.0:
            last[0] = now
            share = "" if fraction is None else f"{fraction:6.1%} "
            print(f"  {share}{text}", file=sys.stderr, flush=True)

    return report


def print_rollback(result: RollbackResult) -> None:
    if result.confirmed:
        print(result.message)
        for rs in result.read_back:
            print(f"  {json.dumps(rs, sort_keys=True)}")
        return
    print(result.message, file=sys.stderr)
    for error in result.errors[-5:]:
        print(f"  {error}", file=sys.stderr)
    print("Roll back by hand with:", file=sys.stderr)
    print(f"  {result.manual_command}", file=sys.stderr)
