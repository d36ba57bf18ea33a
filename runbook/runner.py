"""Running checks: concurrently in threads, each with its own deadline.

Any exception becomes an `error` result with its message; AccessDenied names
the IAM action that is missing. Check threads are daemons, so one that hangs
past its timeout is reported and abandoned without holding the process open.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from runbook.aws.errors import (
    error_code,
    is_access_denied,
    is_botocore_error,
    is_client_error,
    is_unreachable,
)
from runbook.aws.guard import ReadOnlyViolation
from runbook.aws.session import CredentialsError
from runbook.checkapi import Check, CheckContext, CheckResult, Status

_PERFORM = re.compile(r"perform:?\s+([a-z0-9-]+:[A-Za-z0-9]+)")


@dataclass(frozen=True)
class CheckOutcome:
    step: str | None
    check: str
    title: str
    blocking: bool
    result: CheckResult
    duration_s: float
    proves_identity: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "check": self.check,
            "title": self.title,
            "blocking": self.blocking,
            "status": self.result.status.value,
            "summary": self.result.summary,
            "details": list(self.result.details),
            "evidence": self.result.evidence,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class CheckJob:
    step: str | None
    check_cls: type[Check]
    params: BaseModel
    blocking: bool
    timeout_s: float


def missing_action(exc: BaseException, iam_actions: tuple[str, ...]) -> str:
    """The IAM action an AccessDenied was about, as precisely as the error allows."""
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
    found = _PERFORM.search(message)
    if found:
        return found.group(1)
    operation = getattr(exc, "operation_name", "") or ""
    for action in iam_actions:
        if action.split(":", 1)[-1] == operation:
            return action
    return operation or "unknown action"


def explain(exc: BaseException, iam_actions: tuple[str, ...] = ()) -> CheckResult:
    """Turn an exception from a check into an `error` result a human can act on."""
    if is_client_error(exc):
        code = error_code(exc)
        if is_access_denied(exc):
            action = missing_action(exc, iam_actions)
            return CheckResult.errored(
                f"AccessDenied: missing IAM permission {action}",
                [str(exc)],
                missing_iam_action=action,
            )
        return CheckResult.errored(f"{code or 'AWS error'}: {exc}", error_code=code)
    if isinstance(exc, ReadOnlyViolation):
        return CheckResult.errored(str(exc))
    if isinstance(exc, CredentialsError):
        return CheckResult.errored(str(exc))
    if is_unreachable(exc):
        return CheckResult.errored(f"cannot reach AWS: {exc}")
    if is_botocore_error(exc):
        return CheckResult.errored(f"{type(exc).__name__}: {exc}")
    return CheckResult.errored(f"check raised {type(exc).__name__}: {exc}")


def run_one(job: CheckJob, ctx: CheckContext) -> CheckResult:
    try:
        result = job.check_cls().run(ctx, job.params)
        if not isinstance(result, CheckResult):
            return CheckResult.errored(f"check returned {type(result).__name__}, not CheckResult")
        return result
    except Exception as exc:
        return explain(exc, job.check_cls.meta.iam_actions)


def run_checks(
    jobs: list[CheckJob],
    context_for: Callable[[str | None], CheckContext],
    *,
    on_result: Callable[[CheckOutcome], None] | None = None,
) -> list[CheckOutcome]:
    """Run every job at once; return outcomes in job order."""
    results: queue.Queue[tuple[int, CheckResult, float]] = queue.Queue()
    # Every thread is started first and waits here, then all begin at once: a check
    # started while the others already run would wait for the GIL to be started.
    go = threading.Event()

    def worker(index: int, job: CheckJob, ctx: CheckContext) -> None:
        go.wait()
        begun = time.monotonic()
        result = run_one(job, ctx)
        results.put((index, result, time.monotonic() - begun))

    for index, job in enumerate(jobs):
        threading.Thread(
            target=worker,
            args=(index, job, context_for(job.step)),
            name=f"check-{job.check_cls.meta.id}",
            daemon=True,
        ).start()
    started = time.monotonic()
    starts = dict.fromkeys(range(len(jobs)), started)
    go.set()

    outcomes: dict[int, CheckOutcome] = {}

    def finish(index: int, result: CheckResult, duration: float) -> None:
        job = jobs[index]
        outcome = CheckOutcome(
            job.step,
            job.check_cls.meta.id,
            job.check_cls.meta.title,
            job.blocking,
            result,
            duration,
            job.check_cls.meta.proves_identity,
        )
        outcomes[index] = outcome
        if on_result is not None:
            on_result(outcome)

    while len(outcomes) < len(jobs):
        pending = [i for i in range(len(jobs)) if i not in outcomes]
        deadline = min(starts[i] + jobs[i].timeout_s for i in pending)
        try:
            index, result, duration = results.get(timeout=max(0.0, deadline - time.monotonic()))
            if index not in outcomes:
                finish(index, result, duration)
        except queue.Empty:
            now = time.monotonic()
            for i in pending:
                if starts[i] + jobs[i].timeout_s <= now:
                    finish(
                        i,
                        CheckResult.errored(f"timed out after {jobs[i].timeout_s:g}s"),
                        now - starts[i],
                    )
    return [outcomes[i] for i in range(len(jobs))]


def gate_passes(outcomes: list[CheckOutcome]) -> bool:
    """A gate passes when every blocking check passes or warns (skipped is not a pass)."""
    return all(o.result.status in (Status.PASS, Status.WARN) for o in outcomes if o.blocking)
