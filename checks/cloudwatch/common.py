"""CloudWatch reads shared by the watch criteria (no check lives here).

Metrics are read with `GetMetricData` by their exact namespace, name and
dimension set, never discovered with `ListMetrics`: CloudWatch leaves a metric
out of ListMetrics when it had no datapoint for two weeks (Cognito's docs say
to read its metrics with get-metric-data for that reason), and a query for a
dimension set matches only that exact set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from checks.dms.common import Series
from runbook.checkapi import CheckContext


class WindowParams(BaseModel):
    """How far back a criterion looks, and the CloudWatch period of each sample."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_minutes: int = Field(default=15, ge=1, le=24 * 60, description="How far back to look.")
    period_seconds: int = Field(
        default=60, ge=60, multiple_of=60, description="CloudWatch period of each sample."
    )

    @model_validator(mode="after")
    def _window_holds_a_sample(self) -> WindowParams:
        if self.period_seconds > self.window_minutes * 60:
            raise ValueError("period_seconds is longer than the window")
        return self

    def span(self, ctx: CheckContext) -> tuple[datetime, datetime]:
        """(start, end) of the window ending now, the start aligned to the period.

        CloudWatch buckets from StartTime: aligned, one run's samples line up with
        the next run's (the watch re-runs the check on a timer).
        """
        end = ctx.now()
        start = end - timedelta(minutes=self.window_minutes)
        epoch = int(start.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.period_seconds, UTC), end


@dataclass(frozen=True)
class MetricQuery:
    """One statistic of one metric, under `key` in the answer."""

    key: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str  # Sum, SampleCount, Average, Maximum, or a percentile such as p99


class MetricsUnavailable(RuntimeError):
    """CloudWatch answered a query with InternalError or Forbidden: the data is unknown."""


def read_series(
    ctx: CheckContext,
    account: str,
    queries: list[MetricQuery],
    start: datetime,
    end: datetime,
    period: int,
) -> dict[str, Series]:
    """Each query's datapoints by period start; a period with no data has no entry."""
    by_id = {f"q{i}": q for i, q in enumerate(queries)}
    request: list[dict[str, Any]] = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": q.namespace,
                    "MetricName": q.metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in q.dimensions],
                },
                "Period": period,
                "Stat": q.stat,
            },
            "ReturnData": True,
        }
        for query_id, q in by_id.items()
    ]
    out: dict[str, Series] = {q.key: {} for q in queries}
    if not request:
        return out
    problems: list[str] = []
    pages = (
        ctx.client(account, "cloudwatch")
        .get_paginator("get_metric_data")
        .paginate(
            MetricDataQueries=request, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
        )
    )
    for page in pages:
        for result in page.get("MetricDataResults", []):
            query = by_id[str(result["Id"])]
            status = str(result.get("StatusCode", "Complete"))
            if status not in ("Complete", "PartialData"):  # PartialData: more pages follow
                messages = "; ".join(str(m.get("Value")) for m in result.get("Messages", []))
                problems.append(f"{query.metric} {query.stat}: {status} {messages}".strip())
                continue
            series = out[query.key]
            for when, value in zip(
                result.get("Timestamps", []), result.get("Values", []), strict=False
            ):
                series[when.astimezone(UTC)] = float(value)
    if problems:
        raise MetricsUnavailable("CloudWatch could not answer: " + "; ".join(problems))
    return out


def total(series: Series) -> float:
    return float(sum(series.values()))
