"""3. A step's gate: 16 slow checks run concurrently, against the same one after another.

Each check makes one read against the emulator (`sts:GetCallerIdentity` of
the target, as the identity check does) and then waits 300 ms, standing in
for a slow AWS API. The gate is `runbook.runner.run_checks`, exactly what the
engine calls; the baseline is `runbook.runner.run_one` on each job in turn.
The emulator runs in a process of its own.
"""

from __future__ import annotations

import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import ClassVar

from bench.common import (
    Measure,
    Options,
    Report,
    environ_applied,
    external_emulator,
    log,
    ratio_line,
)
from runbook.aws.session import SessionFactory
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams, Status
from runbook.model import Runbook
from runbook.runner import CheckJob, run_checks, run_one
from tests.support.runbooks import REGION, base_runbook

CHECKS = 16
DELAY_S = 0.3


class DelayedCheck(Check[NoParams]):
    meta: ClassVar[CheckMeta] = CheckMeta(
        id="bench.delayed",
        title="One read, then 300 ms",
        account="target",
        iam_actions=("sts:GetCallerIdentity",),
        remediation="none: a benchmark check",
    )

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        account = ctx.client("target", "sts").get_caller_identity()["Account"]
        time.sleep(DELAY_S)
        return CheckResult.passed(f"account {account}")


def _jobs() -> list[CheckJob]:
    return [
        CheckJob(
            step="bench", check_cls=DelayedCheck, params=NoParams(), blocking=True, timeout_s=60
        )
        for _ in range(CHECKS)
    ]


def run(options: Options) -> Report:
    reps = options.repetitions(full=5, quick=3)
    report = Report("gate")
    # The emulator in a process of its own: sixteen requests at once would otherwise be
    # answered by this interpreter, competing with the checks for the GIL.
    with (
        TemporaryDirectory(prefix="bench-gate-") as tmp,
        external_emulator(REGION) as emu,
        environ_applied(emu.environ),
    ):
        model = Runbook.model_validate(base_runbook())
        sessions = SessionFactory(model.accounts)

        def context(step: str | None) -> CheckContext:
            return CheckContext(runbook=model, sessions=sessions, state_dir=Path(tmp), step_id=step)

        def concurrent() -> float:
            begun = time.perf_counter()
            outcomes = run_checks(_jobs(), context)
            elapsed = time.perf_counter() - begun
            bad = [o.result.summary for o in outcomes if o.result.status != Status.PASS]
            if bad:
                raise RuntimeError(f"checks did not pass: {bad[:3]}")
            return elapsed

        def sequential() -> float:
            begun = time.perf_counter()
            for job in _jobs():
                result = run_one(job, context(job.step))
                if result.status != Status.PASS:
                    raise RuntimeError(f"check did not pass: {result.summary}")
            return time.perf_counter() - begun

        run_one(_jobs()[0], context("bench"))  # warm: the client and its first connection
        together: list[float] = []
        in_turn: list[float] = []
        for rep in range(reps):
            order = (concurrent, sequential) if rep % 2 == 0 else (sequential, concurrent)
            for fn in order:
                (together if fn is concurrent else in_turn).append(fn())
            log(
                f"gate {rep + 1}/{reps}: concurrent {together[-1]:.2f} s, "
                f"in turn {in_turn[-1]:.2f} s"
            )
    a = Measure.of(f"{CHECKS} checks concurrently", "s", together)
    b = Measure.of("one after another", "s", in_turn)
    report.measures += [a, b]
    report.ratios.append(ratio_line(a, b, what=f"ideal 1/{CHECKS} = {1 / CHECKS:.3f}"))
    report.notes.append(
        f"each check: one sts:GetCallerIdentity against the emulator, then {DELAY_S * 1000:.0f} ms"
    )
    return report
