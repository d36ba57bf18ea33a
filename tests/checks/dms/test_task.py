"""dms.task against a real moto replication task in the target account."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from runbook.checkapi import CheckContext, Status
from runbook.registry import CheckRegistry
from tests.support.checks import Clients, result_text
from tests.support.checks import run_check as run
from tests.support.dms_endpoints import fail_operation
from tests.support.dmsworld import (
    TASK,
    answer_table_statistics,
    make_task,
    patch_task_response,
    table,
)

TRUNCATE = {"TargetTablePrepMode": "TRUNCATE_BEFORE_LOAD"}


def test_task_running_cdc_do_nothing_without_table_errors_passes(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example")
    answer_table_statistics(check_context, [table("users"), table("orders")])
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["target_table_prep_mode"] == "DO_NOTHING"
    assert result.evidence["errored_tables"] == []


@pytest.mark.parametrize(
    ("task", "tables", "named"),
    [
        pytest.param(
            {"settings": {"FullLoadSettings": {"TargetTablePrepMode": mode}}},
            ["users"],
            f"TargetTablePrepMode {mode}, not DO_NOTHING",
            id=f"destructive-prep-mode-{mode}",
        )
        for mode in ("TRUNCATE_BEFORE_LOAD", "DROP_AND_CREATE")
    ]
    + [
        pytest.param(
            {"settings": {"Logging": {"EnableLogging": True}}},
            [],
            "DROP_AND_CREATE",
            id="no-prep-mode-is-the-dms-default",
        ),
        pytest.param(
            {"migration_type": "full-load"},
            [],
            "MigrationType full-load, not full-load-and-cdc",
            id="full-load-only",
        ),
    ],
)
def test_misconfigured_task_fails_naming_why(
    check_context: CheckContext,
    clients: Clients,
    task: dict[str, Any],
    tables: list[str],
    named: str,
) -> None:
    make_task(clients, "replica.example", **task)
    answer_table_statistics(check_context, [table(name) for name in tables])
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert named in result.summary


def test_stopped_task_fails_and_says_resume_never_restart(
    check_context: CheckContext, clients: Clients
) -> None:
    arn = make_task(clients, "replica.example")
    clients("target", "dms").stop_replication_task(ReplicationTaskArn=arn)
    answer_table_statistics(check_context, [])
    result = run(check_context, "dms.task", {"task_id": arn})  # by ARN this time
    assert result.status == Status.FAIL, result
    assert "status stopped, not running" in result.summary
    hint = next(d for d in result.details if "resume-processing" in d)
    assert arn in hint and "never reload-target" in hint
    cls = CheckRegistry.discover().get("dms.task")
    assert "resume-processing" in cls.meta.remediation
    assert "Never restart it from scratch" in cls.meta.remediation


def test_errored_tables_fail_naming_them(check_context: CheckContext, clients: Clients) -> None:
    make_task(clients, "replica.example")
    answer_table_statistics(
        check_context, [table("users"), table("orders", "Table error"), table("audit")]
    )
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "1 table(s) in error: app.orders" in result.summary
    assert result.evidence["errored_tables"] == ["app.orders"]


def test_unfinished_full_load_fails(check_context: CheckContext, clients: Clients) -> None:
    make_task(clients, "replica.example")
    answer_table_statistics(check_context, [])
    # moto always reports 100%; real DMS reports progress while loading.
    patch_task_response(
        check_context, lambda t: t["ReplicationTaskStats"].update(FullLoadProgressPercent=87)
    )
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "full load 87% done, not 100%" in result.summary


def test_missing_task_fails_clearly(check_context: CheckContext) -> None:
    result = run(check_context, "dms.task", {"task_id": "no-such-task"})
    assert result.status == Status.FAIL, result
    assert result.summary == "DMS replication task no-such-task not found in the target account"


def test_emulator_warns_instead_of_faking_table_statistics(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example")
    check_context.emulated = True  # no hook: a call to DescribeTableStatistics would raise
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert "table errors not checked" in result.summary


@pytest.mark.parametrize(
    "params",
    [
        {"task_id": "1-starts-with-digit"},
        {"task_id": "arn:aws:rds:us-east-1:123456789012:db:x"},
        {"task_id": TASK, "account": "dns"},
        {"task_id": TASK, "task": TASK},
    ],
)
def test_task_params_are_validated(params: dict[str, Any]) -> None:
    cls = CheckRegistry.discover().get("dms.task")
    with pytest.raises(ValidationError):
        cls.params_model.model_validate(params)


def test_finding_survives_a_later_table_statistics_error(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example", settings={"FullLoadSettings": TRUNCATE})
    fail_operation(
        check_context.client("target", "dms"), "DescribeTableStatistics", "AccessDeniedFault"
    )
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "TargetTablePrepMode TRUNCATE_BEFORE_LOAD, not DO_NOTHING" in result.summary
    assert any(
        "table errors not checked" in d and "dms:DescribeTableStatistics" in d
        for d in result.details
    )
    assert result.evidence["errored_tables"] is None


def test_table_statistics_error_alone_is_an_error_not_a_pass(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example")
    fail_operation(
        check_context.client("target", "dms"),
        "DescribeTableStatistics",
        "InvalidResourceStateFault",
    )
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.ERROR, result
    assert "InvalidResourceStateFault" in result.summary


def test_ready_task_that_never_ran_starts_with_start_replication(
    check_context: CheckContext, clients: Clients
) -> None:
    arn = make_task(clients, "replica.example", start=False)
    answer_table_statistics(check_context, [])
    # AWS moves a created task to `ready`; moto leaves it `creating`. No start date: never ran.
    patch_task_response(check_context, lambda t: t.update(Status="ready"))
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "status ready, not running" in result.summary
    text = result_text(result)
    assert "--start-replication-task-type start-replication" in text and arn in text
    assert "resume-processing" not in text
