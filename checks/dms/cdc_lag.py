"""dms.cdc_lag: CDC keeps up, by CloudWatch's CDCLatencySource and CDCLatencyTarget.

The playbook's line: above 60 s CDC is falling behind and must be fixed before
cutover. The task must be `running` (DescribeReplicationTasks): a `failed`,
`stopped` or `ready` task replicates nothing, whatever its last datapoint says.
The worst of both metrics over the window must stay under the threshold, and
the newest sample must be recent: no datapoints, or only old ones, is a
failure, since a task that stopped reporting may have stopped replicating.
The metrics' dimension values are discovered with `ListMetrics`, never guessed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from checks.dms.common import (
    LATENCY_METRICS,
    NAMESPACE,
    DmsAccount,
    Missing,
    TaskRef,
    as_points,
    describe_instance,
    describe_task,
    discover_dimensions,
    fetch_series,
    merge_max,
    not_running,
    stale,
)
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult


class CdcLagParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The replication task's identifier or ARN.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")
    window_minutes: int = Field(default=15, ge=1, le=24 * 60, description="How far back to look.")
    threshold_seconds: float = Field(
        default=60.0, gt=0, description="The worst latency allowed in the window."
    )
    period_seconds: int = Field(
        default=60, ge=60, multiple_of=60, description="CloudWatch period of each sample."
    )
    max_sample_age_seconds: int = Field(
        default=120,
        ge=30,
        description=(
            "The newest sample's data (up to the end of its period) must be at most this "
            "old: older means DMS went quiet."
        ),
    )

    @model_validator(mode="after")
    def _window_holds_a_sample(self) -> CdcLagParams:
        if self.period_seconds > self.window_minutes * 60:
            raise ValueError("period_seconds is longer than the window")
        return self


class CdcLagCheck(Check[CdcLagParams]):
    meta = CheckMeta(
        id="dms.cdc_lag",
        title="DMS CDC latency (source and target) is under the threshold",
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
            "CDC is falling behind. High CDCLatencySource: the source (replica) is slow to "
            "read or its binlog/WAL retention is short; high CDCLatencyTarget: the target is "
            "slow to apply (indexes, triggers, undersized instance or replication instance). "
            "No datapoints: check the task is running and CloudWatch logging is on. Fix it "
            "before cutover; do not flip DNS with CDC behind."
        ),
        live=True,
    )
    params_model = CdcLagParams

    def run(self, ctx: CheckContext, params: CdcLagParams) -> CheckResult:
        try:
            task = describe_task(ctx, params.account, params.task_id)
            instance = describe_instance(ctx, params.account, str(task["ReplicationInstanceArn"]))
        except Missing as exc:
            return CheckResult.failed(str(exc))
        dead = not_running(task)
        if dead is not None:
            return CheckResult.failed(
                dead[0],
                dead[1],
                task_status=str(task.get("Status")),
                task_arn=task["ReplicationTaskArn"],
            )
        dims = {
            m: discover_dimensions(ctx, params.account, m, task, instance) for m in LATENCY_METRICS
        }
        end = ctx.now()
        start = end - timedelta(minutes=params.window_minutes)
        series = fetch_series(ctx, params.account, dims, start, end, params.period_seconds)
        combined = merge_max(*series.values())
        evidence: dict[str, Any] = {
            "series": as_points(combined),
            "threshold_seconds": params.threshold_seconds,
            "window_minutes": params.window_minutes,
            "dimensions": {m: [dict(d) for d in ds] for m, ds in dims.items()},
            "task_status": str(task.get("Status")),
        }
        window = f"the last {params.window_minutes} min"
        empty = [m for m in LATENCY_METRICS if not series[m]]
        if empty:
            undiscovered = [m for m in empty if not dims[m]]
            details = [
                f"{m}: ListMetrics has no {NAMESPACE} series for task "
                f"{task['ReplicationTaskIdentifier']} on instance "
                f"{instance['ReplicationInstanceIdentifier']}"
                for m in undiscovered
            ]
            details += [f"{m}: no datapoints in {window}" for m in empty if m not in undiscovered]
            return CheckResult.failed(
                f"no {' or '.join(empty)} datapoints in {window}: CDC lag unknown",
                details,
                **evidence,
            )

        details = []
        worst_metric, worst_value = "", float("-inf")
        for m in LATENCY_METRICS:
            latest_at = max(series[m])
            peak = max(series[m].values())
            details.append(
                f"{m}: max {peak:g} s, latest {series[m][latest_at]:g} s at {latest_at.isoformat()}"
            )
            if peak > worst_value:
                worst_metric, worst_value = m, peak
        evidence.update(max_seconds=worst_value, worst_metric=worst_metric)
        # Both metrics must be current: one that went quiet may hide the lag.
        for m in LATENCY_METRICS:
            too_old = stale(
                max(series[m]), end, params.period_seconds, params.max_sample_age_seconds
            )
            if too_old is not None:
                return CheckResult.failed(f"{m}: {too_old}", details, **evidence)
        if worst_value >= params.threshold_seconds:
            return CheckResult.failed(
                f"CDC behind: {worst_metric} reached {worst_value:g} s in {window} "
                f"(threshold {params.threshold_seconds:g} s)",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"CDC latency max {worst_value:g} s in {window} (< {params.threshold_seconds:g} s)",
            details,
            **evidence,
        )
