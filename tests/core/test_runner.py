"""The check runner: concurrency, per-check timeouts, exceptions and AccessDenied."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.session import SessionFactory
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams, Status
from runbook.model import Runbook
from runbook.runner import CheckJob, CheckOutcome, gate_passes, run_checks


def meta(check_id: str, blocking: bool = True) -> CheckMeta:
    return CheckMeta(
        id=check_id,
        title=check_id,
        account="target",
        blocking=blocking,
        iam_actions=("ec2:DescribeVpcs",),
        remediation="fix it",
    )


class Passing(Check[NoParams]):
    meta = meta("test.passing")

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        return CheckResult.passed("fine")


class Raising(Check[NoParams]):
    meta = meta("test.raising")

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        raise ValueError("boom in the check")


class Denied(Check[NoParams]):
    meta = meta("test.denied")

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        raise ClientError(
            {"Error": {"Code": "UnauthorizedOperation", "Message": "You are not authorized"}},
            "DescribeVpcs",
        )


class DeniedWithAction(Check[NoParams]):
    meta = meta("test.denied_msg")

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDenied",
                    "Message": "User: arn:aws:sts::1:assumed-role/x is not authorized to "
                    "perform: cloudwatch:GetMetricData because no identity-based policy",
                }
            },
            "GetMetricData",
        )


release = threading.Event()


class Hanging(Check[NoParams]):
    meta = meta("test.hanging")

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        release.wait(30)
        return CheckResult.passed("too late")


class Barrier(Check[NoParams]):
    """Passes only if all four copies run at the same time."""

    meta = meta("test.barrier")
    barrier = threading.Barrier(4, timeout=10)

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        self.barrier.wait()
        return CheckResult.passed("met the others")


def job(cls: type[Check[Any]], timeout: float = 10, blocking: bool = True) -> CheckJob:
    return CheckJob("s", cls, NoParams(), blocking, timeout)


def context(runbook_model: Runbook, tmp_path: Path) -> CheckContext:
    return CheckContext(runbook_model, SessionFactory(runbook_model.accounts), tmp_path)


def test_one_broken_check_never_stops_the_others(runbook_model: Runbook, tmp_path: Path) -> None:
    ctx = context(runbook_model, tmp_path)
    outcomes = run_checks(
        [job(Raising), job(Passing), job(Denied), job(DeniedWithAction)], lambda _s: ctx
    )
    by_id = {o.check: o.result for o in outcomes}
    assert by_id["test.passing"].status == Status.PASS
    assert by_id["test.raising"].status == Status.ERROR
    assert "boom in the check" in by_id["test.raising"].summary
    assert by_id["test.denied"].summary == "AccessDenied: missing IAM permission ec2:DescribeVpcs"
    assert by_id["test.denied_msg"].evidence["missing_iam_action"] == "cloudwatch:GetMetricData"
    assert not gate_passes(outcomes)


def test_a_hanging_check_times_out_alone(runbook_model: Runbook, tmp_path: Path) -> None:
    ctx = context(runbook_model, tmp_path)
    seen: list[CheckOutcome] = []
    try:
        outcomes = run_checks(
            [job(Hanging, timeout=0.3), job(Passing)], lambda _s: ctx, on_result=seen.append
        )
    finally:
        release.set()
    assert outcomes[0].result.status == Status.ERROR
    assert "timed out after 0.3s" in outcomes[0].result.summary
    assert outcomes[1].result.status == Status.PASS
    assert [o.check for o in seen] == ["test.passing", "test.hanging"]


def test_checks_run_concurrently(runbook_model: Runbook, tmp_path: Path) -> None:
    ctx = context(runbook_model, tmp_path)
    outcomes = run_checks([job(Barrier) for _ in range(4)], lambda _s: ctx)
    assert all(o.result.status == Status.PASS for o in outcomes), outcomes


def test_advisory_failures_do_not_block(runbook_model: Runbook, tmp_path: Path) -> None:
    ctx = context(runbook_model, tmp_path)
    outcomes = run_checks([job(Raising, blocking=False), job(Passing)], lambda _s: ctx)
    assert gate_passes(outcomes)


class CountsOthers(Check[NoParams]):
    """Notes how many of the gate's check threads exist as it begins."""

    meta = meta("test.counts_others")
    seen: list[int] = []
    done = threading.Barrier(8, timeout=10)  # none ends before all have counted

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        alive = [t for t in threading.enumerate() if t.name == "check-test.counts_others"]
        self.seen.append(len(alive))
        self.done.wait()
        return CheckResult.passed("counted")


def test_every_check_of_a_gate_begins_once_all_are_started(
    runbook_model: Runbook, tmp_path: Path
) -> None:
    """None begins while the runner still starts the others: each would slow the rest."""
    ctx = context(runbook_model, tmp_path)
    CountsOthers.seen.clear()
    outcomes = run_checks([job(CountsOthers) for _ in range(8)], lambda _s: ctx)
    assert all(o.result.status == Status.PASS for o in outcomes)
    assert CountsOthers.seen == [8] * 8
