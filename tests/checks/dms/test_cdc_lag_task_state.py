"""dms.cdc_lag judges the task's status and the samples' age, not only the last datapoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients, result_text
from tests.support.checks import run_check as run
from tests.support.dmsworld import TASK, make_task, patch_task_response, put


def low_lag(clients: Clients, now: datetime, *, end_minutes_ago: int = 1) -> None:
    put(clients, now, "CDCLatencySource", [2, 3, 2], end_minutes_ago=end_minutes_ago)
    put(clients, now, "CDCLatencyTarget", [4, 5, 4], end_minutes_ago=end_minutes_ago)


def test_a_stopped_task_with_zero_lag_fails_and_says_resume(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    arn = make_task(clients, "replica.example")
    low_lag(clients, now)
    clients("target", "dms").stop_replication_task(ReplicationTaskArn=arn)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert f"DMS task {TASK} is stopped, not running" in result.summary
    assert "resume-processing" in result_text(result)
    assert result.evidence["task_status"] == "stopped"


def test_a_failed_task_fails_with_its_failure_message(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    low_lag(clients, now)

    def failed(task: dict[str, Any]) -> None:
        # moto never fails a task: the status and message AWS reports for one.
        task["Status"] = "failed"
        task["LastFailureMessage"] = "Last Error Binary log is not available; Stop Reason FATAL"

    patch_task_response(check_context, failed)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "is failed, not running" in result.summary
    assert "LastFailureMessage: Last Error Binary log is not available" in result_text(result)


def test_a_ready_task_that_never_ran_fails_and_says_start(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example", start=False)
    low_lag(clients, now)
    # moto leaves a new task `creating`; AWS moves it to `ready` once created.
    patch_task_response(check_context, lambda task: task.update(Status="ready"))
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "is ready, not running" in result.summary
    text = result_text(result)
    assert "--start-replication-task-type start-replication" in text
    assert "resume-processing" not in text


@pytest.mark.parametrize("end_minutes_ago", [4, 9])
def test_samples_minutes_old_fail(
    check_context: CheckContext, clients: Clients, now: datetime, end_minutes_ago: int
) -> None:
    make_task(clients, "replica.example")
    low_lag(clients, now, end_minutes_ago=end_minutes_ago)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert f"newest sample is {end_minutes_ago - 1}m 00s old" in result.summary
