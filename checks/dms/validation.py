"""dms.validation: DMS's data validation found every table equal in source and target.

The final gate before replication stops: once the task is stopped and the
source decommissioned, a row that differs is lost. Read from
`DescribeTableStatistics` per table (`ValidationState`,
`ValidationFailedRecords`, `ValidationPendingRecords`,
`ValidationSuspendedRecords`); the documented states are judged:

- `Validated`, with no failed, pending or suspended record: the table passes.
- `Mismatched records` or any failed record: fail (DMS writes the rows to
  `awsdms_control.awsdms_validation_failures_v1` on the target).
- `Table error`, `Error`: fail, the table was not validated.
- `Pending records`, `Pending validation`, `Preparing table`, `Pending
  revalidation`, or records still pending: fail, validation is not finished.
- `Not enabled`: fail. Without validation nothing proves the copy, and the
  playbook asks for a final validation; the details say how to enable it.
- `Suspended records` (DMS could not compare some rows, e.g. changing too fast)
  and `No primary key` (DMS cannot validate such a table): warn, naming them:
  those rows are unproven, not known to differ; revalidate or compare them
  another way.
- Any other state: fail, unknown is never a pass.

No table at all fails. The emulator has no DescribeTableStatistics: skipped.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from checks.dms.common import DmsAccount, Missing, TaskRef, describe_task
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

VALIDATED = "Validated"
NOT_ENABLED = "Not enabled"
PENDING_STATES = frozenset(
    {"Pending records", "Pending validation", "Preparing table", "Pending revalidation"}
)
# Verdict per table, worst first: (key, fails the check, what the summary says).
VERDICTS: tuple[tuple[str, bool, str], ...] = (
    ("mismatched", True, "records differ"),
    ("error", True, "not validated (error)"),
    ("unknown", True, "unknown validation state"),
    ("not_enabled", True, "validation not enabled"),
    ("pending", True, "validation not finished"),
    ("suspended", False, "records not compared (suspended)"),
    ("no_primary_key", False, "cannot be validated (no primary key)"),
)


class ValidationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(
        description="The replication task's identifier or ARN (or a validation-only task's)."
    )
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")


def _count(table: dict[str, Any], key: str) -> int:
    return int(table.get(key) or 0)


def verdict(table: dict[str, Any]) -> str:
    """One table's verdict: a key of VERDICTS, or `validated`."""
    state = str(table.get("ValidationState") or "")
    failed = _count(table, "ValidationFailedRecords")
    pending = _count(table, "ValidationPendingRecords")
    suspended = _count(table, "ValidationSuspendedRecords")
    if failed or state == "Mismatched records":
        return "mismatched"
    if state in ("Table error", "Error"):
        return "error"
    if state == NOT_ENABLED:
        return "not_enabled"
    if state in PENDING_STATES or pending:
        return "pending"
    if state == "No primary key":
        return "no_primary_key"
    if state == "Suspended records" or suspended:
        return "suspended"
    return "validated" if state == VALIDATED else "unknown"


def validation_enabled(settings_json: str | None) -> bool | None:
    """The task's ValidationSettings.EnableValidation (default false); None if unreadable."""
    try:
        settings = json.loads(settings_json or "")
    except json.JSONDecodeError:
        return None
    return bool((settings.get("ValidationSettings") or {}).get("EnableValidation", False))


def _names(tables: list[str], limit: int = 5) -> str:
    shown = ", ".join(tables[:limit])
    return shown + (f" and {len(tables) - limit} more" if len(tables) > limit else "")


def _table_statistics(ctx: CheckContext, account: DmsAccount, arn: str) -> list[dict[str, Any]]:
    dms = ctx.client(account, "dms")
    tables: list[dict[str, Any]] = []
    for page in dms.get_paginator("describe_table_statistics").paginate(ReplicationTaskArn=arn):
        tables += page.get("TableStatistics", [])
    return tables


def _hints(arn: str, found: dict[str, list[str]], enabled: bool | None) -> list[str]:
    hints = []
    if found["not_enabled"]:
        hints.append(
            "enable validation: stop the task, set ValidationSettings.EnableValidation to "
            f"true (aws dms modify-replication-task --replication-task-arn {arn} "
            "--replication-task-settings with the task's settings so changed), and resume it "
            "(resume-processing); or run a validation-only task (ValidationSettings."
            "ValidationOnly true) on the same endpoints and name it in task_id"
            + (" (the task's settings have EnableValidation false)" if enabled is False else "")
        )
    if found["mismatched"]:
        hints.append(
            "the differing rows are in awsdms_control.awsdms_validation_failures_v1 on the "
            "target; fix them, then revalidate the tables"
        )
    if found["mismatched"] or found["suspended"] or found["error"]:
        hints.append(
            f"revalidate a table: aws dms reload-tables --replication-task-arn {arn} "
            "--tables-to-reload SchemaName=S,TableName=T --reload-option validate-only"
        )
    if found["no_primary_key"]:
        hints.append(
            "DMS validates only tables with a primary key or unique index: compare those "
            "another way (row counts, checksums)"
        )
    return hints


class ValidationCheck(Check[ValidationParams]):
    meta = CheckMeta(
        id="dms.validation",
        title="DMS validation: every table validated, no record differs",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=("dms:DescribeReplicationTasks", "dms:DescribeTableStatistics"),
        remediation=(
            "Enable validation on the task (ValidationSettings.EnableValidation) or run a "
            "validation-only task, wait until every table is Validated, and fix any "
            "mismatched rows (awsdms_control.awsdms_validation_failures_v1 on the target) "
            "before stopping replication; revalidate with reload-tables --reload-option "
            "validate-only."
        ),
    )
    params_model = ValidationParams

    def run(self, ctx: CheckContext, params: ValidationParams) -> CheckResult:
        try:
            task = describe_task(ctx, params.account, params.task_id)
        except Missing as exc:
            return CheckResult.failed(str(exc))
        arn = str(task["ReplicationTaskArn"])
        status = str(task.get("Status", "unknown"))
        enabled = validation_enabled(task.get("ReplicationTaskSettings"))
        evidence: dict[str, Any] = {
            "task_arn": arn,
            "task_status": status,
            "validation_enabled": enabled,
        }
        if ctx.emulated:
            return CheckResult.skipped(
                "validation state unknown: the emulator has no DescribeTableStatistics",
                **evidence,
            )
        tables = _table_statistics(ctx, params.account, arn)
        if not tables:
            return CheckResult.failed(
                f"DMS task {params.task_id}: DescribeTableStatistics lists no table, "
                "nothing validated",
                **evidence,
            )
        found: dict[str, list[str]] = {key: [] for key, _, _ in VERDICTS}
        found["validated"] = []
        per_table: dict[str, dict[str, Any]] = {}
        details: list[str] = [f"task {task['ReplicationTaskIdentifier']} ({arn}), {status}"]
        for table in tables:
            name = f"{table.get('SchemaName')}.{table.get('TableName')}"
            judged = verdict(table)
            found[judged].append(name)
            per_table[name] = {
                "state": table.get("ValidationState"),
                "verdict": judged,
                "failed": _count(table, "ValidationFailedRecords"),
                "pending": _count(table, "ValidationPendingRecords"),
                "suspended": _count(table, "ValidationSuspendedRecords"),
            }
            if judged != "validated":
                counts = per_table[name]
                extra = (
                    f" ({table['ValidationStateDetails']})"
                    if table.get("ValidationStateDetails")
                    else ""
                )
                details.append(
                    f"{name}: {table.get('ValidationState')}{extra}; failed {counts['failed']}, "
                    f"pending {counts['pending']}, suspended {counts['suspended']}"
                )
        evidence["tables"] = per_table
        if found["pending"] and status != "running":
            details.append(f"the task is {status}: validation goes on only while it runs")
        details += _hints(arn, found, enabled)

        failing = [(k, text) for k, fails, text in VERDICTS if fails and found[k]]
        if failing:
            summary = "; ".join(f"{text}: {_names(found[k])}" for k, text in failing)
            return CheckResult.failed(f"DMS validation: {summary}", details, **evidence)
        unproven = [(k, text) for k, fails, text in VERDICTS if not fails and found[k]]
        if unproven:
            summary = "; ".join(f"{text}: {_names(found[k])}" for k, text in unproven)
            return CheckResult.warned(
                f"DMS validation: {len(found['validated'])} of {len(tables)} tables validated; "
                f"{summary}",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"DMS validation: all {len(tables)} tables validated, no record differs",
            details,
            **evidence,
        )
