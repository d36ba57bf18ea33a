"""3. A step's gate: 16 slow checks run concurrently, against one such check alone.

Each check makes one read against the emulator (`sts:GetCallerIdentity` of
the target, as the identity check does) and then waits 300 ms, standing in
for a slow AWS API. The gate is `runbook.runner.run_checks`, exactly what the
engine calls, with a context per step as the engine builds it; the goal's
baseline is the same gate holding one check. The same sixteen one after
another (`runbook.runner.run_one` in turn) show what running them at once
saves. The emulator runs in a process of its own.
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
    goal_line,
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


GOAL = 1.3  # the gate of 16 against one check alone
EMULATOR_PROCESSES = 4  # moto servers answering at once (the reads share no state)


def _jobs(count: int = CHECKS) -> list[CheckJob]:
    return [
        CheckJob(
            step="bench", check_cls=DelayedCheck, params=NoParams(), blocking=True, timeout_s=60
        )
        for _ in range(count)
    ]


def run(options: Options) -> Report:
    reps = options.repetitions(full=5, quick=3)
    report = Report("gate")
    # The emulator in processes of its own: sixteen requests at once would otherwise be
    # answered by this interpreter, competing with the checks for the GIL. They answer
    # at once, as AWS would: one moto at a time would time its queue, not the gate.
    with (
        TemporaryDirectory(prefix="bench-gate-") as tmp,
        external_emulator(REGION, processes=EMULATOR_PROCESSES) as emu,
        environ_applied(emu.environ),
    ):
        model = Runbook.model_validate(base_runbook())
        sessions = SessionFactory(model.accounts)

        def context(step: str | None) -> CheckContext:
            return CheckContext(runbook=model, sessions=sessions, state_dir=Path(tmp), step_id=step)

        slowest: list[float] = []  # the slowest check's own time, in each gate of 16

        def gate(count: int) -> float:
            begun = time.perf_counter()
            outcomes = run_checks(_jobs(count), context)
            elapsed = time.perf_counter() - begun
            bad = [o.result.summary for o in outcomes if o.result.status != Status.PASS]
            if bad:
                raise RuntimeError(f"checks did not pass: {bad[:3]}")
            if count == CHECKS:
                slowest.append(max(o.duration_s for o in outcomes))
            return elapsed

        def sequential() -> float:
            begun = time.perf_counter()
            for job in _jobs():
                result = run_one(job, context(job.step))
                if result.status != Status.PASS:
                    raise RuntimeError(f"check did not pass: {result.summary}")
            return time.perf_counter() - begun

        gate(CHECKS)  # warm, untimed: the client, its connections, every emulator process
        slowest.clear()
        together: list[float] = []
        alone: list[float] = []
        in_turn: list[float] = []
        orders = (("gate", "alone", "turn"), ("alone", "turn", "gate"), ("turn", "gate", "alone"))
        for rep in range(reps):
            for which in orders[rep % len(orders)]:
                if which == "gate":
                    together.append(gate(CHECKS))
                elif which == "alone":
                    alone.append(gate(1))
                else:
                    in_turn.append(sequential())
            log(
                f"gate {rep + 1}/{reps}: {CHECKS} at once {together[-1]:.3f} s, one alone "
                f"{alone[-1]:.3f} s, in turn {in_turn[-1]:.2f} s"
            )
    a = Measure.of(f"gate of {CHECKS} checks", "s", together)
    one = Measure.of("gate of one check", "s", alone)
    b = Measure.of(f"{CHECKS} one after another", "s", in_turn)
    worst = Measure.of("its slowest check, in the gate", "s", slowest)
    report.measures += [a, one, b, worst]
    report.ratios.append(ratio_line(a, one, what=f"goal: at most {GOAL}"))
    report.ratios.append(ratio_line(a, worst, what="the runner's own overhead: 1 = none"))
    report.ratios.append(ratio_line(a, b, what=f"ideal 1/{CHECKS} = {1 / CHECKS:.3f}"))
    overhead = a.median / one.median
    report.goals.append(
        goal_line(f"gate of {CHECKS} vs one check alone", overhead, f"<= {GOAL}", overhead <= GOAL)
    )
    report.notes.append(
        f"each check: one sts:GetCallerIdentity against the emulator, then {DELAY_S * 1000:.0f} ms"
    )
    report.notes.append(
        f"the emulator: {EMULATOR_PROCESSES} moto processes answering at once, as AWS "
        "would; the demo's emulator serialises requests, which would time its queue"
    )
    return report
