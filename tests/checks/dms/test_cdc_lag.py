"""dms.cdc_lag against CloudWatch samples in moto."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients
from tests.support.checks import run_check as run
from tests.support.dmsworld import INSTANCE, TASK, make_task, patch_task_response, put


def test_cdc_lag_under_threshold_passes_with_series(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [4, 6, 3, 2, 5])
    put(clients, now, "CDCLatencyTarget", [8, 12, 9, 7, 6])
    # Another task's lag on the same instance must not count.
    put(clients, now, "CDCLatencyTarget", [900, 900], task="other-task")
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["max_seconds"] == 12
    series = result.evidence["series"]
    assert [value for _, value in series] == [8, 12, 9, 7, 6]
    assert series[-1][0] == (now - timedelta(minutes=1)).isoformat()
    json.dumps(result.evidence)  # JSON all the way down


@pytest.mark.parametrize(
    ("samples", "named"),
    [
        pytest.param(
            [("CDCLatencySource", [3, 4, 5], 1), ("CDCLatencyTarget", [20, 75, 40], 1)],
            ["CDCLatencyTarget reached 75 s", "(threshold 60 s)"],
            id="above-threshold-names-the-metric",
        ),
        pytest.param(
            [("CDCLatencySource", [1, 2, 1], 1)],
            ["no CDCLatencyTarget datapoints"],
            id="one-metric-silent",
        ),
        pytest.param(
            [("CDCLatencySource", [1, 1], 12), ("CDCLatencyTarget", [1, 1], 12)],
            ["newest sample is 11m 00s old"],
            id="only-stale-samples",
        ),
    ],
)
def test_cdc_lag_fails_naming_why(
    check_context: CheckContext,
    clients: Clients,
    now: datetime,
    samples: list[tuple[str, list[float], int]],
    named: list[str],
) -> None:
    make_task(clients, "replica.example")
    for metric, values, end_minutes_ago in samples:
        put(clients, now, metric, values, end_minutes_ago=end_minutes_ago)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    for text in named:
        assert text in result.summary


def test_cdc_lag_without_datapoints_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [1, 1], task="other-task")
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "no CDCLatencySource or CDCLatencyTarget datapoints" in result.summary
    assert result.evidence["series"] == []


def test_cdc_lag_finds_metrics_under_the_task_resource_id(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    resource = "Q2JVYJ6MQVFUXLCQGHAG3V7SPM"

    def as_aws_returns_it(task: dict[str, Any]) -> None:
        # Real task ARNs end in a resource id, not the name; moto's end in the name.
        task["ReplicationTaskArn"] = task["ReplicationTaskArn"].rsplit(":", 1)[0] + f":{resource}"

    patch_task_response(check_context, as_aws_returns_it)
    put(clients, now, "CDCLatencySource", [2, 3], task=resource)
    put(clients, now, "CDCLatencyTarget", [4, 5], task=resource)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.PASS, result
    found = result.evidence["dimensions"]["CDCLatencyTarget"]
    assert found == [
        {"ReplicationInstanceIdentifier": INSTANCE, "ReplicationTaskIdentifier": resource}
    ]
