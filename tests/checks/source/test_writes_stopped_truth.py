"""source.writes_stopped never passes while the source still changes or the task is dead.

moto has no DescribeTableStatistics: `answer_table_statistics` answers it on the
check's own client with a response validated against the service model, and the
test edits the table counters between runs as DMS would while changes arrive.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from runbook.checkapi import CheckContext, CheckResult, Status
from tests.support.checks import Clients, result_text
from tests.support.checks import run_check as run
from tests.support.dmsworld import TASK, answer_table_statistics, make_task, put

PARAMS = {"task_id": TASK}


def drained(
    clients: Clients, now: datetime, *, rows: list[float] | None = None, ago: int = 1
) -> None:
    """Five samples of a drained task: nothing waiting, nothing arriving, low latency."""
    put(clients, now, "CDCIncomingChanges", [0] * 5, end_minutes_ago=ago)
    put(clients, now, "CDCThroughputRowsSource", rows or [0] * 5, end_minutes_ago=ago)
    put(clients, now, "CDCLatencySource", [2] * 5, end_minutes_ago=ago)
    put(clients, now, "CDCLatencyTarget", [3] * 5, end_minutes_ago=ago)


def counters(inserts: int = 10, updates: int = 4) -> list[dict[str, Any]]:
    return [
        {
            "SchemaName": "app",
            "TableName": "orders",
            "TableState": "Table completed",
            "FullLoadRows": 10,
            "Inserts": inserts,
            "Updates": updates,
            "Deletes": 0,
            "Ddls": 0,
        }
    ]


def at(ctx: CheckContext, when: datetime, params: dict[str, Any] = PARAMS) -> CheckResult:
    """Run the check as if it were `when` (the live re-run, a few seconds apart)."""
    ctx.now = lambda: when
    return run(ctx, "source.writes_stopped", params)


def test_a_stopped_task_fails_even_with_drained_metrics(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    arn = make_task(clients, "replica.example")
    drained(clients, now)
    answer_table_statistics(check_context, counters())
    clients("target", "dms").stop_replication_task(ReplicationTaskArn=arn)
    at(check_context, now - timedelta(seconds=60))
    result = at(check_context, now)
    assert result.status == Status.FAIL, result
    assert f"DMS task {TASK} is stopped, not running" in result.summary
    assert "resume-processing" in result_text(result)


def test_rows_arriving_from_the_source_fail_though_nothing_waits(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    # CDCIncomingChanges 0 is an empty backlog: DMS applies as fast as the source writes.
    drained(clients, now, rows=[14, 12, 15, 13, 12])
    answer_table_statistics(check_context, counters())
    at(check_context, now - timedelta(seconds=60))
    result = at(check_context, now)
    assert result.status == Status.FAIL, result
    assert "CDCThroughputRowsSource 15 at" in result.summary


def test_samples_minutes_old_fail(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drained(clients, now, ago=5)
    answer_table_statistics(check_context, counters())
    at(check_context, now - timedelta(seconds=60))
    result = at(check_context, now)
    assert result.status == Status.FAIL, result
    assert "newest sample is 4m 00s old" in result.summary


def test_table_counters_that_move_fail_until_they_stay_still(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drained(clients, now)
    tables = counters()
    answer_table_statistics(check_context, tables)

    first = at(check_context, now - timedelta(seconds=50))
    assert first.status == Status.FAIL, first
    assert "first reading of DMS table statistics" in first.summary

    # A job still writing through another user: CloudWatch's minute looked quiet.
    tables[0]["Inserts"] = 13
    moved = at(check_context, now - timedelta(seconds=40))
    assert moved.status == Status.FAIL, moved
    assert "table statistics moved" in moved.summary
    assert "app.orders Inserts 10 -> 13" in result_text(moved)

    still = at(check_context, now - timedelta(seconds=25))
    assert still.status == Status.FAIL, still
    assert "unchanged for only 15.0s" in still.summary

    result = at(check_context, now)
    assert result.status == Status.PASS, result
    assert result.evidence["tables_unchanged_since"] == (now - timedelta(seconds=40)).isoformat()
    # CloudWatch's zero rows reach back to the first sample; the counters cover the rest.
    assert result.evidence["writes_stopped_since"] == (now - timedelta(minutes=5)).isoformat()
    assert "writes stopped for 5m 00s" in result.summary


def test_another_process_reading_continues_the_same_record(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drained(clients, now)
    answer_table_statistics(check_context, counters())
    at(check_context, now - timedelta(seconds=45))
    saved = list(check_context.state_dir.glob("dms-table-counters-*.json"))
    assert len(saved) == 1
    record = json.loads(saved[0].read_text())
    assert record["counters"] == {"app.orders": [10, 4, 0, 0]}
    result = at(check_context, now)
    assert result.status == Status.PASS, result


def test_no_table_statistics_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drained(clients, now)
    answer_table_statistics(check_context, [])
    at(check_context, now - timedelta(seconds=60))
    result = at(check_context, now)
    assert result.status == Status.FAIL, result
    assert "DescribeTableStatistics lists no table" in result.summary


@pytest.mark.parametrize("rows", [[0, 0, 0, 0, 0], [40, 30, 0, 0, 0]])
def test_on_the_emulator_the_rows_metric_alone_says_so(
    check_context: CheckContext, clients: Clients, now: datetime, rows: list[float]
) -> None:
    make_task(clients, "replica.example")
    drained(clients, now, rows=rows)
    check_context.emulated = True
    result = at(check_context, now)
    assert result.status == Status.PASS, result
    assert "emulator has no DescribeTableStatistics" in result_text(result)
    first_zero = now - timedelta(minutes=rows.count(0))
    assert result.evidence["writes_stopped_since"] == first_zero.isoformat()


def test_rows_in_the_minute_still_running_fail(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drained(clients, now)
    answer_table_statistics(check_context, counters())
    put(clients, now, "CDCThroughputRowsSource", [5], end_minutes_ago=0)
    at(check_context, now - timedelta(seconds=60))
    result = at(check_context, now + timedelta(seconds=20))
    assert result.status == Status.FAIL, result
    assert f"CDCThroughputRowsSource 5 so far in the minute from {now.isoformat()}" in (
        result.summary
    )
