"""The watch step: hold for a window after the flip, re-running the step's checks.

Each round runs the step's own checks (the criteria fixed in advance) through
the runner, writes one compact `watch.round` record (every criterion's status,
and the summaries of those that changed) and rewrites `watch.json`, the
watch's view for the app and for other shells: countdown, each criterion's
latest status, its metric series and its thresholds (the check's parameters).

A breach is a blocking criterion that fails. A criterion that cannot be read
(`error`) is not a pass either: one unreadable round is reported and watched
again (a throttled read must not roll production back), but a criterion
unreadable for `UNREADABLE_ROUNDS` rounds in a row is a breach too: nobody can
say it holds. The breach record carries the evidence. Rollback is offered,
never automatic, unless the step says `on_breach = "rollback"`; even then only
a measured failure rolls back by itself, never a blind spot.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from runbook.action_types import ActionContext, ActionError, ActionInterrupted, ActionOutcome
from runbook.durable import atomic_write
from runbook.formatting import duration
from runbook.runner import CheckJob, CheckOutcome, run_checks
from runbook.state import utcnow

if TYPE_CHECKING:
    from runbook.model import WatchAction
    from runbook.runtime import Runtime

WATCH_FILE = "watch.json"
UNREADABLE_ROUNDS = 3  # consecutive unreadable rounds of one criterion that make a breach
HISTORY_ROUNDS = 240  # statuses kept per criterion in watch.json

# The audit events of a watch (readers match on these names).
WATCH_ROUND = "watch.round"
WATCH_BREACHED = "watch.breached"
WATCH_ROLLBACK = "watch.rollback"  # why the watch rolled back, or why it did not by itself

Verdict = Literal["watching", "held", "breached", "stopped", "unreadable", "rolled back elsewhere"]


def step_jobs(runtime: Runtime, step_id: str, only: list[str] | None = None) -> list[CheckJob]:
    """A step's checks as runner jobs, with their validated parameters (gates and watches)."""
    step = runtime.model.step(step_id)
    jobs = []
    for index, ref in enumerate(step.checks):
        if only is not None and ref.id not in only:
            continue
        cls = runtime.registry.get(ref.id)
        jobs.append(
            CheckJob(
                step=step_id,
                check_cls=cls,
                params=runtime.loaded.params[(step_id, index)],
                blocking=cls.meta.blocking if ref.blocking is None else ref.blocking,
                timeout_s=ref.timeout_s or runtime.model.settings.check_timeout_s,
            )
        )
    return jobs


def metric_series(evidence: dict[str, Any]) -> dict[str, list[float]]:
    """A check's `series` evidence as numbers per metric.

    `series` is a list of points (`[time, value]` or bare values) or a mapping
    of metric name to such a list.
    """
    raw = evidence.get("series")
    named = raw if isinstance(raw, dict) else {"value": raw}
    out: dict[str, list[float]] = {}
    for metric, points in named.items():
        if not isinstance(points, list):
            continue
        values = []
        for point in points:
            value = point[-1] if isinstance(point, list | tuple) and point else point
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.append(float(value))
        if values:
            out[str(metric)] = values
    return out


def thresholds_of(params: BaseModel) -> dict[str, Any]:
    """The criterion as configured: the check's scalar parameters (thresholds, windows)."""
    return {
        key: value
        for key, value in params.model_dump(mode="json").items()
        if isinstance(value, int | float | str | bool)
    }


class Criterion(BaseModel):
    """One criterion's latest reading, for the app's watch panel."""

    key: str
    check: str
    title: str
    blocking: bool
    status: str = "pending"
    summary: str = ""
    thresholds: dict[str, Any] = Field(default_factory=dict)
    history: list[str] = Field(default_factory=list)
    series: dict[str, list[float]] = Field(default_factory=dict)


class WatchView(BaseModel):
    """`watch.json`: the latest watch of the run, rewritten each round."""

    step: str
    window_s: float
    interval_s: float
    on_breach: str
    started_at: datetime
    ends_at: datetime
    round: int = 0
    verdict: Verdict = "watching"
    finished_at: datetime | None = None
    breach: dict[str, Any] | None = None
    rolled_back: bool | None = None
    criteria: list[Criterion] = Field(default_factory=list)

    def remaining_s(self, now: datetime) -> float:
        return max(0.0, (self.ends_at - now).total_seconds())


def read_view(state_dir: Path) -> WatchView | None:
    """The watch view on disk, or None when no watch ran (or the file is unreadable)."""
    path = state_dir / WATCH_FILE
    try:
        return WatchView.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def _keys(jobs: list[CheckJob]) -> list[str]:
    """A name per job: the check id, indexed when a step uses one check twice."""
    ids = [j.check_cls.meta.id for j in jobs]
    return [i if ids.count(i) == 1 else f"{i}[{n}]" for n, i in enumerate(ids)]


class _Watch:
    """One watch in progress: the rounds, the view and the audit records."""

    def __init__(self, ctx: ActionContext, action: WatchAction) -> None:
        self.ctx = ctx
        self.action = action
        self.rt = ctx.runtime
        self.step_id = ctx.step.id
        self.jobs = step_jobs(self.rt, self.step_id)
        self.keys = _keys(self.jobs)
        self.unreadable = dict.fromkeys(self.keys, 0)
        self.last: dict[str, str] = {}
        self.started = time.monotonic()
        now = utcnow()
        self.rolled_back_at = self.rt.state.dns.rolled_back_at
        self.view = WatchView(
            step=self.step_id,
            window_s=action.window_s,
            interval_s=action.interval_s,
            on_breach=action.on_breach,
            started_at=now,
            ends_at=now + timedelta(seconds=action.window_s),
            criteria=[
                Criterion(
                    key=key,
                    check=job.check_cls.meta.id,
                    title=job.check_cls.meta.title,
                    blocking=job.blocking,
                    thresholds=thresholds_of(job.params),
                )
                for key, job in zip(self.keys, self.jobs, strict=True)
            ],
        )

    # --- the loop ---------------------------------------------------------------

    def run(self) -> ActionOutcome:
        if not any(job.blocking for job in self.jobs):
            raise ActionError("nothing to watch: the step has no blocking check")
        self.save()
        deadline = self.started + self.action.window_s
        while True:
            outcomes = run_checks(self.jobs, self.rt.check_context)
            self.view.round += 1
            breach = self.judge(outcomes)
            if breach is not None:
                return self.breached(*breach)
            elsewhere = self.rolled_back_elsewhere()
            if elsewhere is not None:
                return elsewhere
            if time.monotonic() >= deadline:
                return self.held(outcomes)
            next_at = min(self.started + self.view.round * self.action.interval_s, deadline)
            if not self.wait_until(next_at, deadline):
                return self.finish(
                    "stopped",
                    ActionOutcome(
                        False,
                        f"watch stopped by the operator after {self.elapsed()} of "
                        f"{duration(self.action.window_s)}: the criteria were not watched for "
                        "the whole window",
                        {"rounds": self.view.round, "stopped": True},
                    ),
                )

    def elapsed(self) -> str:
        return duration(time.monotonic() - self.started)

    def wait_until(self, at: float, deadline: float) -> bool:
        """Sleep until `at` in slices, showing the countdown; False when cancelled."""
        while (now := time.monotonic()) < at:
            self.stop_if_quitting()
            if self.ctx.cancel.is_set():
                return False
            self.progress(now, deadline)
            self.ctx.sleep(min(1.0, at - now))
        self.stop_if_quitting()
        return not self.ctx.cancel.is_set()

    def stop_if_quitting(self) -> None:
        """The app is closing: stop, undecided. Started again, the watch holds for a whole
        window: the time nobody watched is not counted towards it."""
        if not self.ctx.interrupt.is_set():
            return
        self.view.verdict = "stopped"
        self.view.finished_at = utcnow()
        self.save()
        raise ActionInterrupted(
            f"watch interrupted after {self.elapsed()} ({self.view.round} rounds); "
            "started again, it watches a whole window",
            {"rounds": self.view.round},
        )

    def progress(self, now: float, deadline: float) -> None:
        holding = sum(1 for c in self.view.criteria if c.status in ("pass", "warn"))
        left = duration(max(0.0, deadline - now))
        self.ctx.progress(
            min(1.0, (now - self.started) / self.action.window_s),
            f"watching: {left} left · round {self.view.round} · "
            f"{holding} of {len(self.view.criteria)} criteria hold",
        )

    # --- judging a round ----------------------------------------------------------

    def judge(self, outcomes: list[CheckOutcome]) -> tuple[str, str, CheckOutcome] | None:
        """Record the round; the first breach as (key, kind, outcome), if any."""
        statuses: dict[str, str] = {}
        changed: dict[str, str] = {}
        breach: tuple[str, str, CheckOutcome] | None = None
        for key, outcome, criterion in zip(self.keys, outcomes, self.view.criteria, strict=True):
            status = outcome.result.status.value
            statuses[key] = status
            if self.last.get(key) != status:
                changed[key] = f"{status}: {outcome.result.summary}"
            criterion.status = status
            criterion.summary = outcome.result.summary
            criterion.history = [*criterion.history, status][-HISTORY_ROUNDS:]
            criterion.series = metric_series(outcome.result.evidence)
            self.unreadable[key] = self.unreadable[key] + 1 if status == "error" else 0
            if not outcome.blocking or breach is not None:
                continue
            if status == "fail":
                breach = (key, "failed", outcome)
            elif self.unreadable[key] >= UNREADABLE_ROUNDS:
                breach = (key, "unreadable", outcome)
        self.last = statuses
        bad = [k for k, s in statuses.items() if s in ("fail", "error")]
        summary = f"round {self.view.round}: " + (
            ", ".join(f"{k} {statuses[k]}" for k in bad) if bad else "every criterion holds"
        )
        self.rt.audit.record(
            WATCH_ROUND,
            step=self.step_id,
            summary=summary,
            round=self.view.round,
            elapsed_s=round(time.monotonic() - self.started, 1),
            statuses=statuses,
            changed=changed,
        )
        self.save()
        self.progress(time.monotonic(), self.started + self.action.window_s)
        return breach

    def rolled_back_elsewhere(self) -> ActionOutcome | None:
        """DNS was rolled back during the watch (a key, another shell): nothing left to watch."""
        rolled = self.rt.refresh_state().dns.rolled_back_at
        if rolled is None or rolled == self.rolled_back_at:
            return None
        return self.finish(
            "rolled back elsewhere",
            ActionOutcome(
                False,
                f"DNS was rolled back at {rolled.isoformat()} during the watch; "
                "the watch stopped: nothing left to watch on the target",
                {"rounds": self.view.round, "rolled_back_at": rolled.isoformat()},
            ),
        )

    # --- endings ------------------------------------------------------------------

    def held(self, outcomes: list[CheckOutcome]) -> ActionOutcome:
        blind = [
            k
            for k, o in zip(self.keys, outcomes, strict=True)
            if o.blocking and o.result.status.value == "error"
        ]
        unwatched = [
            k
            for k, o in zip(self.keys, outcomes, strict=True)
            if o.result.status.value == "skipped"
        ]
        details: dict[str, Any] = {"rounds": self.view.round, "statuses": self.last}
        window = duration(self.action.window_s)
        if blind:
            return self.finish(
                "unreadable",
                ActionOutcome(
                    False,
                    f"the window ({window}) ended with {', '.join(blind)} unreadable: the "
                    "criteria were not shown to hold; watch again",
                    {**details, "unreadable": blind},
                ),
            )
        summary = f"every criterion held for {window} ({self.view.round} rounds)"
        if unwatched:
            summary += f"; not watched (skipped): {', '.join(unwatched)}"
            details["skipped"] = unwatched
        return self.finish("held", ActionOutcome(True, summary, details))

    def breached(self, key: str, kind: str, outcome: CheckOutcome) -> ActionOutcome:
        criterion = next(c for c in self.view.criteria if c.key == key)
        what = (
            f"{key} failed: {outcome.result.summary}"
            if kind == "failed"
            else f"{key} unreadable for {UNREADABLE_ROUNDS} rounds in a row: "
            f"{outcome.result.summary}"
        )
        evidence = {k: v for k, v in outcome.to_json().items() if k not in ("step", "duration_s")}
        record = self.rt.audit.record(
            WATCH_BREACHED,
            step=self.step_id,
            summary=f"BREACH: {what}",
            kind=kind,
            criterion=key,
            round=self.view.round,
            elapsed_s=round(time.monotonic() - self.started, 1),
            thresholds=criterion.thresholds,
            history=criterion.history,
            statuses=self.last,
            on_breach=self.action.on_breach,
            result=evidence,
        )
        self.view.breach = {
            "seq": record["seq"],
            "criterion": key,
            "kind": kind,
            "summary": what,
            "at": record["time"],
        }
        details: dict[str, Any] = {
            "breached": True,
            "breach_seq": record["seq"],
            "criterion": key,
            "kind": kind,
            "rounds": self.view.round,
        }
        summary = f"BREACHED after {self.elapsed()}: {what}"
        if self.action.on_breach == "rollback" and kind == "failed":
            return self.roll_back(summary, details, what, record["seq"])
        if self.action.on_breach == "rollback":
            self.rt.audit.record(
                WATCH_ROLLBACK,
                step=self.step_id,
                rolled_back=False,
                breach_seq=record["seq"],
                reason=(
                    f"not rolled back by itself: {key} could not be read, which is a blind "
                    "spot, not a measured failure; the operator decides"
                ),
            )
        details["rollback"] = "offered"
        return self.finish(
            "breached",
            ActionOutcome(
                False, f"{summary}. Rollback is offered: ctrl+r, or `runbook rollback`", details
            ),
        )

    def roll_back(
        self, summary: str, details: dict[str, Any], what: str, breach_seq: int
    ) -> ActionOutcome:
        from runbook.dns.rollback import NoSnapshotError

        self.rt.audit.record(
            WATCH_ROLLBACK,
            step=self.step_id,
            rolled_back=True,
            breach_seq=breach_seq,
            reason=f'on_breach = "rollback" for this step, and {what}',
        )
        self.ctx.progress(None, "breach: rolling DNS back to the snapshot")
        try:
            result = self.rt.rollback(sleep=self.ctx.sleep)
        except NoSnapshotError as exc:
            details.update(rollback="impossible", rollback_error=str(exc))
            return self.finish("breached", ActionOutcome(False, f"{summary}; {exc}", details))
        self.view.rolled_back = result.confirmed
        details.update(rollback="done", rollback_confirmed=result.confirmed)
        if result.confirmed:
            text = f"{summary}; rolled back to the snapshot ({result.message})"
        else:
            details["manual_command"] = result.manual_command
            text = f"{summary}; {result.message}: roll back by hand (`runbook rollback`)"
        return self.finish("breached", ActionOutcome(False, text, details))

    def finish(self, verdict: Verdict, outcome: ActionOutcome) -> ActionOutcome:
        self.view.verdict = verdict
        self.view.finished_at = utcnow()
        self.save()
        self.ctx.progress(1.0, outcome.summary)
        return outcome

    def save(self) -> None:
        atomic_write(self.rt.state_dir / WATCH_FILE, self.view.model_dump_json().encode("utf-8"))


def watch_action(ctx: ActionContext, action: WatchAction) -> ActionOutcome:
    """Watch the step's criteria for the window; see the module's docstring."""
    return _Watch(ctx, action).run()
