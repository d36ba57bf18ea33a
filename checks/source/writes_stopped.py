"""source.writes_stopped: after the source was made read-only, CDC has drained.

The playbook's cutover: revoke writes on the source, wait for CDC to drain,
then flip DNS. Drained means DMS's `CDCIncomingChanges` is zero and CDC latency
(the worse of `CDCLatencySource` and `CDCLatencyTarget`) is under the drain
threshold, for the last N samples in a row. With `read_only_step`, only samples
that start after that step was done count, so changes from before the source
went read-only cannot make it look drained early.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from checks.dms.common import (
    INCOMING_METRIC,
    LATENCY_METRICS,
    DmsAccount,
    Missing,
    TaskRef,
    as_points,
    describe_instance,
    describe_task,
    discover_dimensions,
    fetch_series,
    merge_max,
)
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.state import StepStatus


class WritesStoppedParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The DMS replication task replicating the source.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")
    drain_threshold_seconds: float = Field(
        default=30.0, gt=0, description="CDC latency under which the task counts as drained."
    )
    consecutive_samples: int = Field(
        default=3, ge=1, le=60, description="How many latest samples in a row must be drained."
    )
    window_minutes: int = Field(default=15, ge=1, le=24 * 60, description="How far back to look.")
    period_seconds: int = Field(
        default=60, ge=60, multiple_of=60, description="CloudWatch period of each sample."
    )
    max_sample_age_minutes: int = Field(
        default=10,
        ge=1,
        description="The newest sample must be at most this old: older means DMS went quiet.",
    )
    read_only_step: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description=(
            "The step in which the operator confirmed the source read-only; only samples "
            "starting after it was done count (and the check fails until it is done)."
        ),
    )

    @model_validator(mode="after")
    def _window_holds_samples(self) -> WritesStoppedParams:
        if self.consecutive_samples * self.period_seconds > self.window_minutes * 60:
            raise ValueError("consecutive_samples * period_seconds does not fit in the window")
        return self


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class WritesStoppedCheck(Check[WritesStoppedParams]):
    meta = CheckMeta(
        id="source.writes_stopped",
        title="Source writes stopped and CDC drained (no incoming changes, low latency)",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=(
            "dms:DescribeReplicationTasks",
            "dms:DescribeReplicationInstances",
            "cloudwatch:ListMetrics",
            "cloudwatch:GetMetricData",
        ),
        remediation=(
            "Confirm the source database is really read-only (the application user's "
            "INSERT/UPDATE/DELETE revoked, or the parameter group's read_only in force) and "
            "that no job writes through another user; then wait for CDC to drain. Do not flip "
            "DNS while changes are still arriving."
        ),
        live=True,
    )
    params_model = WritesStoppedParams

    def run(self, ctx: CheckContext, params: WritesStoppedParams) -> CheckResult:
        end = ctx.now()
        start = end - timedelta(minutes=params.window_minutes)
        since: datetime | None = None
        if params.read_only_step is not None:
            saved = ctx.state.steps.get(params.read_only_step) if ctx.state else None
            if saved is None or saved.status != StepStatus.DONE or saved.finished_at is None:
                return CheckResult.failed(
                    f"the source is not confirmed read-only yet: step {params.read_only_step} "
                    "is not done"
                )
            since = _aware(saved.finished_at)
            start = max(start, since - timedelta(seconds=params.period_seconds))
        try:
            task = describe_task(ctx, params.account, params.task_id)
            instance = describe_instance(ctx, params.account, str(task["ReplicationInstanceArn"]))
        except Missing as exc:
            return CheckResult.failed(str(exc))

        metrics = (INCOMING_METRIC, *LATENCY_METRICS)
        dims = {m: discover_dimensions(ctx, params.account, m, task, instance) for m in metrics}
        series = fetch_series(ctx, params.account, dims, start, end, params.period_seconds)
        if since is not None:
            # A sample's timestamp is the start of its period: one that starts before the
            # confirmation may hold writes from before it.
            series = {m: {t: v for t, v in s.items() if t >= since} for m, s in series.items()}
        incoming = series[INCOMING_METRIC]
        latency = merge_max(*(series[m] for m in LATENCY_METRICS))
        evidence: dict[str, Any] = {
            "series": as_points(latency),
            "incoming_series": as_points(incoming),
            "drain_threshold_seconds": params.drain_threshold_seconds,
            "consecutive_samples": params.consecutive_samples,
            "since": since.isoformat() if since else None,
        }
        after = (
            f" since {since.isoformat()}" if since else f" in the last {params.window_minutes} min"
        )
        if not incoming:
            return CheckResult.failed(
                f"no {INCOMING_METRIC} datapoints{after}: cannot tell that writes stopped",
                [f"{INCOMING_METRIC} dimension sets found: {len(dims[INCOMING_METRIC])}"],
                **evidence,
            )
        if not latency:
            return CheckResult.failed(
                f"no CDC latency datapoints{after}: cannot tell that CDC drained", [], **evidence
            )

        stamps = sorted(set(incoming) | set(latency))
        last = stamps[-params.consecutive_samples :]
        details: list[str] = []
        problems: list[str] = []
        for at in last:
            changes, lag = incoming.get(at), latency.get(at)
            shown_changes = "no data" if changes is None else f"{changes:g}"
            shown_lag = "no data" if lag is None else f"{lag:g} s"
            details.append(
                f"{at.isoformat()}: {INCOMING_METRIC} {shown_changes}, latency {shown_lag}"
            )
            if changes is None or changes > 0:
                problems.append(f"{INCOMING_METRIC} {shown_changes} at {at.isoformat()}")
            if lag is None or lag >= params.drain_threshold_seconds:
                problems.append(f"CDC latency {shown_lag} at {at.isoformat()}")
        age = end - last[-1]
        if age > timedelta(minutes=params.max_sample_age_minutes):
            problems.append(
                f"newest sample is {int(age.total_seconds() // 60)} min old "
                f"({last[-1].isoformat()}): DMS stopped reporting"
            )
        if len(last) < params.consecutive_samples:
            problems.insert(0, f"only {len(last)} of {params.consecutive_samples} samples{after}")
        if problems:
            return CheckResult.failed(
                f"CDC not drained: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
                details + problems,
                **evidence,
            )
        return CheckResult.passed(
            f"writes stopped: {INCOMING_METRIC} 0 and CDC latency < "
            f"{params.drain_threshold_seconds:g} s for the last {len(last)} samples "
            f"(to {last[-1].isoformat()})",
            details,
            **evidence,
        )
