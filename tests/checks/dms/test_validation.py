"""dms.validation: the task from moto, its table statistics through a Stubber.

moto has no DescribeTableStatistics. The check's DMS client is stubbed: the task
is the one moto describes for a task built in it, the table statistics are as
AWS documents them; the Stubber checks both against the service model.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients
from tests.support.checks import run_check as run
from tests.support.dmsworld import DO_NOTHING, TASK, make_task

VALIDATING = {**DO_NOTHING, "ValidationSettings": {"EnableValidation": True}}


def stats(name: str, state: str, failed: int = 0, pending: int = 0, **kw: Any) -> dict[str, Any]:
    return {
        "SchemaName": "app",
        "TableName": name,
        "TableState": "Table completed",
        "FullLoadRows": 100,
        "ValidationState": state,
        "ValidationFailedRecords": failed,
        "ValidationPendingRecords": pending,
        "ValidationSuspendedRecords": kw.pop("suspended", 0),
        **kw,
    }


def described_task(clients: Clients, settings: dict[str, Any]) -> dict[str, Any]:
    """A running task in moto, as moto's DescribeReplicationTasks answers for it."""
    make_task(clients, "replica.example", settings=settings)
    answer: dict[str, Any] = clients("target", "dms").describe_replication_tasks()
    answer.pop("ResponseMetadata")
    return answer


def judge(
    ctx: CheckContext, clients: Clients, pages: list[list[dict[str, Any]]], settings: Any = None
) -> Any:
    task = described_task(clients, VALIDATING if settings is None else settings)
    arn = task["ReplicationTasks"][0]["ReplicationTaskArn"]
    with Stubber(ctx.client("target", "dms")) as stub:
        stub.add_response(
            "describe_replication_tasks",
            task,
            {"Filters": [{"Name": "replication-task-id", "Values": [TASK]}]},
        )
        for i, page in enumerate(pages):
            answer: dict[str, Any] = {"ReplicationTaskArn": arn, "TableStatistics": page}
            expected: dict[str, Any] = {"ReplicationTaskArn": arn}
            if i + 1 < len(pages):
                answer["Marker"] = f"page{i + 2}"
            if i:
                expected["Marker"] = f"page{i + 1}"
            stub.add_response("describe_table_statistics", answer, expected)
        result = run(ctx, "dms.validation", {"task_id": TASK})
        stub.assert_no_pending_responses()
    return result


def test_every_table_validated_passes_across_pages(
    check_context: CheckContext, clients: Clients
) -> None:
    pages = [
        [stats("users", "Validated"), stats("orders", "Validated")],
        [stats("items", "Validated")],
    ]
    result = judge(check_context, clients, pages)
    assert result.status == Status.PASS, result
    assert result.summary == "DMS validation: all 3 tables validated, no record differs"
    assert result.evidence["validation_enabled"] is True
    assert set(result.evidence["tables"]) == {"app.users", "app.orders", "app.items"}


def test_mismatched_records_fail_naming_the_table(
    check_context: CheckContext, clients: Clients
) -> None:
    pages = [[stats("users", "Validated"), stats("orders", "Mismatched records", failed=3)]]
    result = judge(check_context, clients, pages)
    assert result.status == Status.FAIL, result
    assert result.summary == "DMS validation: records differ: app.orders"
    assert result.evidence["tables"]["app.orders"]["failed"] == 3
    assert any("awsdms_validation_failures_v1" in d for d in result.details)


def test_failed_records_fail_even_in_a_validated_state(
    check_context: CheckContext, clients: Clients
) -> None:
    result = judge(check_context, clients, [[stats("users", "Validated", failed=1)]])
    assert result.status == Status.FAIL, result
    assert "records differ: app.users" in result.summary


def test_validation_not_enabled_fails_saying_how_to_enable_it(
    check_context: CheckContext, clients: Clients
) -> None:
    pages = [[stats("users", "Not enabled"), stats("orders", "Not enabled")]]
    result = judge(check_context, clients, pages, settings=DO_NOTHING)
    assert result.status == Status.FAIL, result
    assert "validation not enabled: app.users, app.orders" in result.summary
    assert result.evidence["validation_enabled"] is False
    hint = next(d for d in result.details if d.startswith("enable validation"))
    assert "ValidationSettings.EnableValidation" in hint
    assert "EnableValidation false" in hint


@pytest.mark.parametrize(
    ("table", "named"),
    [
        pytest.param(
            stats("users", "Pending records", pending=40), "validation not finished", id="pending"
        ),
        pytest.param(
            stats("users", "Validated", pending=2), "validation not finished", id="pending-rows"
        ),
        pytest.param(stats("users", "Preparing table"), "validation not finished", id="preparing"),
        pytest.param(stats("users", "Table error"), "not validated (error)", id="table-error"),
        pytest.param(
            stats("users", "Error", ValidationStateDetails="connection lost"),
            "not validated (error)",
            id="error",
        ),
        pytest.param(stats("users", "Revalidating?"), "unknown validation state", id="unknown"),
    ],
)
def test_unfinished_or_broken_validation_fails(
    check_context: CheckContext, clients: Clients, table: dict[str, Any], named: str
) -> None:
    result = judge(check_context, clients, [[stats("orders", "Validated"), table]])
    assert result.status == Status.FAIL, result
    assert result.summary == f"DMS validation: {named}: app.users"


def test_unproven_rows_warn(check_context: CheckContext, clients: Clients) -> None:
    pages = [
        [
            stats("users", "Validated"),
            stats("sessions", "Suspended records", suspended=7),
            stats("audit_log", "No primary key"),
        ]
    ]
    result = judge(check_context, clients, pages)
    assert result.status == Status.WARN, result
    assert result.summary == (
        "DMS validation: 1 of 3 tables validated; records not compared (suspended): "
        "app.sessions; cannot be validated (no primary key): app.audit_log"
    )
    assert any("--reload-option validate-only" in d for d in result.details)


def test_no_table_fails(check_context: CheckContext, clients: Clients) -> None:
    result = judge(check_context, clients, [[]])
    assert result.status == Status.FAIL, result
    assert "lists no table, nothing validated" in result.summary


def test_missing_task_fails(check_context: CheckContext) -> None:
    result = run(check_context, "dms.validation", {"task_id": "no-such-task"})
    assert result.status == Status.FAIL, result
    assert "no-such-task not found" in result.summary


def test_emulator_skips(check_context: CheckContext, clients: Clients) -> None:
    make_task(clients, "replica.example", settings=VALIDATING)
    check_context.emulated = True
    result = run(check_context, "dms.validation", {"task_id": TASK})
    assert result.status == Status.SKIPPED, result
    assert "emulator has no DescribeTableStatistics" in result.summary
