"""CloudWatch samples as AWS services publish them, put into moto for the watch criteria."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from botocore.stub import Stubber

COGNITO = "AWS/Cognito"
LAMBDA = "AWS/Lambda"


def put_minutes(
    cloudwatch: Any,
    now: datetime,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    minutes: list[list[float]],
    *,
    unit: str = "Count",
    end_minutes_ago: int = 1,
) -> None:
    """One entry per minute, oldest first, each the raw samples of that minute.

    The newest minute starts `end_minutes_ago` before `now`. Samples go in as
    PutMetricData's Values/Counts, so SampleCount, Sum and percentiles are the
    service's own statistics of them. An empty minute publishes nothing, as AWS
    services publish nothing without requests.
    """
    dims = [{"Name": n, "Value": v} for n, v in dimensions.items()]
    data = []
    for i, samples in enumerate(minutes):
        if not samples:
            continue
        counts = Counter(samples)
        data.append(
            {
                "MetricName": metric,
                "Dimensions": dims,
                "Timestamp": now - timedelta(minutes=end_minutes_ago + len(minutes) - 1 - i),
                "Values": [float(v) for v in counts],
                "Counts": [float(c) for c in counts.values()],
                "Unit": unit,
            }
        )
    for first in range(0, len(data), 500):  # PutMetricData's most datapoints per call
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[first : first + 500])


def signins(ok: int, failed: int) -> list[float]:
    """One minute of `SignInSuccesses`: 1 per sign-in that got tokens, 0 per one that did not."""
    return [1.0] * ok + [0.0] * failed


def stub_metric_data(
    stub: Stubber, results: list[dict[str, Any]], expected: dict[str, Any] | None = None
) -> None:
    """One GetMetricData answer (validated against the service model by the Stubber)."""
    stub.add_response("get_metric_data", {"MetricDataResults": results}, expected)
