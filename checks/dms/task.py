"""dms.task: the replication task is running full load + CDC, loaded, and safe to resume.

`ReplicationTaskSettings` comes back as a JSON string. The target schema is
pre-created, so `FullLoadSettings.TargetTablePrepMode` must be `DO_NOTHING`:
`TRUNCATE_BEFORE_LOAD` empties the target on a reload and `DROP_AND_CREATE`
(DMS's default when unset) replaces the schema with DMS's inferred one.

Findings from the task's description stand even when `DescribeTableStatistics`
then fails: the result fails with them (the unread table errors in the details),
and is an error only when there is nothing else to report. A task that never ran
(`ready`, no start date) starts with `start-replication`; only one that has run
resumes with `resume-processing`.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from checks.dms.common import DmsAccount, Missing, TaskRef, describe_task, restart_hint
from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

_STOPPED = frozenset({"stopped", "failed", "ready"})


class TaskParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The replication task's identifier or ARN.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")


def _prep_mode(settings_json: str | None) -> tuple[str | None, str | None]:
    """(TargetTablePrepMode, problem reading it)."""
    if not settings_json:
        return None, "ReplicationTaskSettings is empty"
    try:
        settings = json.loads(settings_json)
    except json.JSONDecodeError as exc:
        return None, f"ReplicationTaskSettings is not JSON: {exc}"
    mode = (settings.get("FullLoadSettings") or {}).get("TargetTablePrepMode")
    return (str(mode) if mode is not None else None), None


def _errored_tables(ctx: CheckContext, account: DmsAccount, arn: str) -> list[str]:
    dms = ctx.client(account, "dms")
    errored: list[str] = []
    for page in dms.get_paginator("describe_table_statistics").paginate(ReplicationTaskArn=arn):
        for table in page.get("TableStatistics", []):
            if table.get("TableState") == "Table error":
                errored.append(f"{table.get('SchemaName')}.{table.get('TableName')}")
    return errored


class TaskCheck(Check[TaskParams]):
    meta = CheckMeta(
        id="dms.task",
        title="DMS task runs full load + CDC, fully loaded, no table errors, DO_NOTHING prep",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=("dms:DescribeReplicationTasks", "dms:DescribeTableStatistics"),
        remediation=(
            "A task that has never run (ready) starts with `--start-replication-task-type "
            "start-replication`. After a failure, investigate the offending row (usually a "
            "constraint mismatch), fix the target schema, then resume the task with "
            "`aws dms start-replication-task --start-replication-task-type resume-processing`. "
            "Never restart it from scratch (reload-target / start-replication): the CDC "
            "position is lost and the full load runs again. Set "
            "FullLoadSettings.TargetTablePrepMode to DO_NOTHING and MigrationType to "
            "full-load-and-cdc (modify the task while it is stopped)."
        ),
    )
    params_model = TaskParams

    def run(self, ctx: CheckContext, params: TaskParams) -> CheckResult:
        try:
            task = describe_task(ctx, params.account, params.task_id)
        except Missing as exc:
            return CheckResult.failed(str(exc))
        arn = str(task["ReplicationTaskArn"])
        status = str(task.get("Status", "unknown"))
        migration_type = str(task.get("MigrationType", "unknown"))
        stats: dict[str, Any] = task.get("ReplicationTaskStats") or {}
        progress = stats.get("FullLoadProgressPercent")
        prep_mode, settings_problem = _prep_mode(task.get("ReplicationTaskSettings"))

        problems: list[str] = []
        details: list[str] = [f"task {task['ReplicationTaskIdentifier']} ({arn})"]
        if status != "running":
            problems.append(f"status {status}, not running")
            for key in ("StopReason", "LastFailureMessage"):
                if task.get(key):
                    details.append(f"{key}: {task[key]}")
            if status in _STOPPED:
                details.append(restart_hint(task))
        if migration_type != "full-load-and-cdc":
            problems.append(f"MigrationType {migration_type}, not full-load-and-cdc")
        if progress != 100:
            problems.append(f"full load {progress}% done, not 100%")
        if settings_problem is not None:
            problems.append(settings_problem)
        elif prep_mode != "DO_NOTHING":
            shown = prep_mode or "unset (DMS's default is DROP_AND_CREATE)"
            problems.append(f"TargetTablePrepMode {shown}, not DO_NOTHING")

        errored: list[str] | None = None
        unread: str | None = None
        if ctx.emulated:
            # The embedded emulator has no DescribeTableStatistics: say so, never guess.
            details.append("table errors not checked: the emulator lacks DescribeTableStatistics")
        else:
            try:
                errored = _errored_tables(ctx, params.account, arn)
            except ClientError as exc:
                # Keep what was already found: a later API error must not hide it.
                unread = (
                    f"dms:DescribeTableStatistics failed with {error_code(exc) or 'an error'}: "
                    f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
                )
                details.append(f"table errors not checked: {unread}")
            if errored:
                problems.append(f"{len(errored)} table(s) in error: {', '.join(errored)}")
        if stats.get("TablesErrored"):
            details.append(f"ReplicationTaskStats.TablesErrored: {stats['TablesErrored']}")

        evidence: dict[str, Any] = {
            "task_arn": arn,
            "status": status,
            "migration_type": migration_type,
            "full_load_progress_percent": progress,
            "target_table_prep_mode": prep_mode,
            "errored_tables": errored,
        }
        if problems:
            details.extend(problems)
            return CheckResult.failed(
                f"DMS task {params.task_id}: {'; '.join(problems)}", details, **evidence
            )
        if unread is not None:
            return CheckResult.errored(
                f"DMS task {params.task_id}: table errors unknown, {unread}", details, **evidence
            )
        if errored is None:
            return CheckResult.warned(
                f"DMS task {params.task_id} running, full load done, DO_NOTHING; "
                "table errors not checked (emulator)",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"DMS task {params.task_id} running full-load-and-cdc, 100% loaded, "
            "no table errors, DO_NOTHING",
            details,
            **evidence,
        )
