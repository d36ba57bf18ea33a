"""source.writes_stopped against DMS's CloudWatch samples in moto.

Table counters (DescribeTableStatistics, which moto lacks) are answered on the
check's client and read once a minute before `now`, so that they have been
still long enough; `test_writes_stopped_truth.py` covers them moving.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.registry import CheckRegistry
from runbook.state import RunState, StepState
from tests.support.checks import Clients
from tests.support.checks import run_check as run
from tests.support.dmsworld import TASK, answer_table_statistics, make_task, put, table


def drain(clients: Clients, now: datetime, incoming: list[float], latency: list[float]) -> None:
    put(clients, now, "CDCIncomingChanges", incoming)
    # The source sends rows while changes still arrive, none once they stopped.
    put(clients, now, "CDCThroughputRowsSource", [v / 10 for v in incoming])
    put(clients, now, "CDCLatencySource", [v / 2 for v in latency])
    put(clients, now, "CDCLatencyTarget", latency)


def check(ctx: CheckContext, now: datetime, params: dict[str, Any]) -> CheckResult:
    """Read the (still) table counters a minute earlier, then run the check at `now`."""
    answer_table_statistics(ctx, [table("orders")])
    ctx.now = lambda: now - timedelta(minutes=1)
    run(ctx, "source.writes_stopped", params)
    ctx.now = lambda: now
    return run(ctx, "source.writes_stopped", params)


def test_writes_stopped_after_three_drained_samples_passes(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [120, 40, 0, 0, 0], [50, 35, 12, 4, 1])
    result = check(check_context, now, {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert "in the last 3 samples" in result.summary
    assert "writes stopped for 3m 00s" in result.summary
    assert [v for _, v in result.evidence["series"]] == [50, 35, 12, 4, 1]
    assert [v for _, v in result.evidence["incoming_series"]] == [120, 40, 0, 0, 0]


@pytest.mark.parametrize(
    ("incoming", "latency", "params", "named"),
    [
        pytest.param(
            [0, 0, 0, 0, 3],
            [1, 1, 1, 1, 1],
            {},
            "CDCIncomingChanges 3 at",
            id="writes-still-arriving",
        ),
        pytest.param(
            [0, 0, 0, 0, 0],
            [1, 1, 1, 45, 2],
            {},
            "CDC latency 45 s at",
            id="latency-above-drain-threshold",
        ),
        pytest.param(
            [0, 0],
            [1, 1],
            {"consecutive_samples": 3},
            "only 2 of 3 complete samples",
            id="too-few-samples",
        ),
    ],
)
def test_writes_stopped_fails_naming_why(
    check_context: CheckContext,
    clients: Clients,
    now: datetime,
    incoming: list[float],
    latency: list[float],
    params: dict[str, Any],
    named: str,
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, incoming, latency)
    result = check(check_context, now, {"task_id": TASK, **params})
    assert result.status == Status.FAIL, result
    assert named in result.summary


def test_drained_but_silent_for_too_long_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    for metric in ("CDCIncomingChanges", "CDCThroughputRowsSource"):
        put(clients, now, metric, [0, 0, 0], end_minutes_ago=12)
    put(clients, now, "CDCLatencyTarget", [1, 1, 1], end_minutes_ago=12)
    result = check(check_context, now, {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "newest sample is 11m 00s old" in result.summary


def test_writes_stopped_without_datapoints_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    result = check(check_context, now, {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "no CDCIncomingChanges datapoints" in result.summary


def test_only_samples_after_the_read_only_step_count(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [0, 0, 0, 0, 0], [1, 1, 1, 1, 1])
    params = {"task_id": TASK, "read_only_step": "source-read-only"}

    check_context.state = RunState()
    not_yet = check(check_context, now, params)
    assert not_yet.status == Status.FAIL, not_yet
    assert "step source-read-only is not done" in not_yet.summary

    # Confirmed 2.5 minutes ago: only the samples starting at -2 and -1 min are after it.
    check_context.state.steps["source-read-only"] = StepState(
        status="done", finished_at=now - timedelta(minutes=2, seconds=30)
    )
    recent = check(check_context, now, params)
    assert recent.status == Status.FAIL, recent
    assert "only 2 of 3 complete samples since" in recent.summary

    check_context.state.steps["source-read-only"] = StepState(
        status="done", finished_at=now - timedelta(minutes=3)
    )
    drained = check(check_context, now, params)
    assert drained.status == Status.PASS, drained
    assert "read-only (source-read-only)" in drained.details[0]


def test_writes_stopped_params_must_fit_the_window() -> None:
    cls = CheckRegistry.discover().get("source.writes_stopped")
    with pytest.raises(ValidationError, match="does not fit in the window"):
        cls.params_model.model_validate(
            {"task_id": TASK, "consecutive_samples": 20, "window_minutes": 10}
        )
