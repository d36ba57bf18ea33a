"""cfn.drift: which source stacks drifted, and how, so the target templates can redeclare it.

`DetectStackDrift` is on the source's read-only allowlist: it records a
detection run and changes no stack and no resource. Detection is asynchronous:
all runs are started first, then polled with an explicit delay until a
deadline; a stack still running at the deadline is reported as undetermined,
never as in sync.

A stack whose `StackDriftStatus` is IN_SYNC has only shown that the resources
CloudFormation checked are in sync: resource types without drift support are
left NOT_CHECKED (and are absent from `DescribeStackResourceDrifts`), so every
resource's own status is read from `ListStackResources`. Anything but IN_SYNC,
MODIFIED or DELETED is drift unknown, and said so.

Drift detection never sees what no stack declares: the source's DynamoDB tables
that no stack (of any name) manages are listed with their key schema, for the
target's templates. Advisory: all of this is work for the target's templates,
not a reason to stop the cutover.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from checks.cfn.common import stack_resources, table_line, unmanaged_tables
from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.formatting import error_line

# Statuses AWS documents drift detection for (plus the import equivalents).
DRIFTABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
DRIFTED = frozenset({"MODIFIED", "DELETED"})
SCOPE_NOTE = (
    "drift detection sees only resources a stack declares: DynamoDB tables no stack manages "
    "are listed here; other resources made by hand (buckets, queues, ...) need their own inventory"
)
_MAX_VALUE = 200
_SHOWN = 5


class DriftParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stacks: tuple[str, ...] = Field(
        default=(),
        description="Source stack names to check; empty means every stack in a driftable state.",
    )
    poll_delay_s: float = Field(
        default=5.0, ge=0, le=60, description="Seconds between detection-status polls."
    )
    deadline_s: float = Field(
        default=25.0,
        gt=0,
        le=900,
        description=(
            "Give up waiting for detection after this many seconds; keep it below the "
            "check's timeout_s (30 s by default), and raise both for many or large stacks."
        ),
    )


def clip(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def is_validation(exc: ClientError) -> bool:
    return error_code(exc) == "ValidationError"


def shown(names: list[str]) -> str:
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def resource_drifts(client: Any, stack: str) -> list[dict[str, Any]]:
    # botocore has no paginator for DescribeStackResourceDrifts.
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "StackName": stack,
        "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
    }
    while True:
        page = client.describe_stack_resource_drifts(**kwargs)
        found.extend(page.get("StackResourceDrifts", []))
        token = page.get("NextToken")
        if not token:
            return found
        kwargs["NextToken"] = token


def resource_status(resource: dict[str, Any]) -> str:
    """A resource's drift status; no drift information at all means never checked."""
    info = resource.get("DriftInformation") or {}
    return str(info.get("StackResourceDriftStatus") or "NOT_CHECKED")


def detect(
    ctx: CheckContext, client: Any, params: DriftParams
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Detection results by stack, and the stacks whose drift could not be determined."""
    not_checked: dict[str, str] = {}
    if params.stacks:
        names = list(dict.fromkeys(params.stacks))
    else:
        names = []
        for page in client.get_paginator("describe_stacks").paginate():
            for stack in page.get("Stacks", []):
                if stack["StackStatus"] in DRIFTABLE:
                    names.append(stack["StackName"])
                else:
                    not_checked[stack["StackName"]] = (
                        f"status {stack['StackStatus']} does not allow drift detection"
                    )

    # Start every detection first: they run in parallel on AWS's side.
    pending: dict[str, str] = {}
    for name in names:
        try:
            pending[name] = client.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
        except ClientError as exc:
            if not is_validation(exc):
                raise
            not_checked[name] = str(exc.response["Error"].get("Message", exc))

    finished: dict[str, dict[str, Any]] = {}
    deadline = ctx.now() + timedelta(seconds=params.deadline_s)
    while pending:
        for name, detection in list(pending.items()):
            status = client.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
                finished[name] = status
                del pending[name]
        remaining = (deadline - ctx.now()).total_seconds()
        if not pending or remaining <= 0:
            break
        time.sleep(min(params.poll_delay_s, remaining))
    for name in pending:
        not_checked[name] = f"detection still running after {params.deadline_s:g}s"
    return finished, not_checked


def inventory(
    ctx: CheckContext, client: Any, known: dict[str, list[dict[str, Any]]]
) -> tuple[list[dict[str, Any]], str | None]:
    """Tables no stack manages, or why they could not be listed (kept apart from drift)."""
    try:
        return unmanaged_tables(ctx.client("source", "dynamodb"), client, known), None
    except ClientError as exc:
        return [], error_line(exc, with_type=False)


def table_clause(tables: list[dict[str, Any]]) -> str:
    return (
        f"{len(tables)} source DynamoDB tables no stack manages: "
        f"{shown([t['name'] for t in tables])}; redeclare them in the target templates"
    )


class DriftCheck(Check[DriftParams]):
    meta = CheckMeta(
        id="cfn.drift",
        title="Source CloudFormation drift is known (advisory)",
        account="source",
        blocking=False,
        severity="medium",
        iam_actions=(
            "cloudformation:DescribeStacks",
            "cloudformation:DetectStackDrift",
            "cloudformation:DescribeStackDriftDetectionStatus",
            "cloudformation:DescribeStackResourceDrifts",
            "cloudformation:ListStackResources",
            "cloudformation:ListStacks",
            "dynamodb:ListTables",
            "dynamodb:DescribeTable",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:ListTagsOfResource",
        ),
        remediation=(
            "For each drifted resource, and each DynamoDB table no stack manages, read its "
            "actual state from the source (describe-table, describe-time-to-live, "
            "describe-continuous-backups, get-bucket-*, ...) and write it into the target "
            "account's template before deploying; compare resources CloudFormation could not "
            "check by hand. Never fix drift in the source, it is read-only."
        ),
    )
    params_model = DriftParams

    def run(self, ctx: CheckContext, params: DriftParams) -> CheckResult:
        client = ctx.client("source", "cloudformation")
        if ctx.emulated:
            return self.emulated(ctx, client)
        finished, not_checked = detect(ctx, client, params)

        details: list[str] = []
        report: dict[str, Any] = {}
        known: dict[str, list[dict[str, Any]]] = {}
        drifted: list[str] = []
        drifted_resources = 0
        unchecked: dict[str, list[str]] = {}
        for name, status in finished.items():
            drift_status = status.get("StackDriftStatus", "UNKNOWN")
            entry: dict[str, Any] = {
                "detection_id": status.get("StackDriftDetectionId"),
                "detection_status": status["DetectionStatus"],
                "drift_status": drift_status,
                "drifted_resources": status.get("DriftedStackResourceCount", 0),
                "reason": status.get("DetectionStatusReason"),
                "resources": [],
                "not_checked_resources": [],
            }
            report[name] = entry
            failed = status["DetectionStatus"] == "DETECTION_FAILED"
            if drift_status != "DRIFTED":
                # A failed run that found no drift has not shown the stack is in sync.
                if failed:
                    reason = status.get("DetectionStatusReason", "no reason given")
                    not_checked[name] = f"detection failed: {reason}"
                    continue
                if drift_status != "IN_SYNC":
                    not_checked[name] = f"drift status {drift_status}"
                    continue
            elif failed:
                # Partial: results exist for the resources that could be checked.
                details.append(
                    f"{name}: detection failed for some resources: "
                    f"{status.get('DetectionStatusReason', 'no reason given')}"
                )
            # The stack's status covers only what was checked: read every resource's own.
            try:
                resources = known[name] = stack_resources(client, name)
            except ClientError as exc:
                # Keep what detection found; this stack's sync is just not shown.
                not_checked[name] = f"resources' own drift status not read: {error_line(exc)}"
                resources = []
            statuses = [
                (r["LogicalResourceId"], r.get("ResourceType"), resource_status(r))
                for r in resources
            ]
            skipped = [
                f"{logical} ({kind}): {state}"
                for logical, kind, state in statuses
                if state not in DRIFTED | {"IN_SYNC"}
            ]
            if skipped:
                unchecked[name] = entry["not_checked_resources"] = skipped
                details.extend(f"{name}: drift unknown, not checked: {s}" for s in skipped)
            if drift_status != "DRIFTED" and not DRIFTED & {state for *_, state in statuses}:
                continue
            drifted.append(name)
            for res in resource_drifts(client, name):
                drifted_resources += 1
                diffs = [
                    {
                        "path": d.get("PropertyPath"),
                        "expected": d.get("ExpectedValue"),
                        "actual": d.get("ActualValue"),
                        "type": d.get("DifferenceType"),
                    }
                    for d in res.get("PropertyDifferences", [])
                ]
                entry["resources"].append(
                    {
                        "logical_id": res.get("LogicalResourceId"),
                        "physical_id": res.get("PhysicalResourceId"),
                        "type": res.get("ResourceType"),
                        "status": res.get("StackResourceDriftStatus"),
                        "differences": diffs,
                    }
                )
                details.append(
                    f"{name}: {res.get('ResourceType')} {res.get('LogicalResourceId')} "
                    f"({res.get('PhysicalResourceId')}) {res.get('StackResourceDriftStatus')}"
                )
                # One line each, named in full: details are stripped, so no indenting.
                details.extend(
                    f"{name}: {res.get('LogicalResourceId')}{d['path']}: {d['type']} "
                    f"expected {clip(d['expected'])} actual {clip(d['actual'])}"
                    for d in diffs
                )
        details.extend(f"{name}: not determined: {why}" for name, why in not_checked.items())
        tables, inventory_error = inventory(ctx, client, known)
        details.extend(table_line(t) for t in tables)
        if inventory_error:
            details.append(f"DynamoDB tables not inventoried: {inventory_error}")
        details.append(f"note: {SCOPE_NOTE}")

        in_sync = [
            n
            for n, e in report.items()
            if e["drift_status"] == "IN_SYNC"
            and e["detection_status"] == "DETECTION_COMPLETE"
            and n not in unchecked
            and n not in not_checked
        ]
        unchecked_count = sum(len(v) for v in unchecked.values())
        evidence: dict[str, Any] = {
            "stacks": report,
            "not_checked": not_checked,
            "not_checked_resources": unchecked_count,
            "in_sync": in_sync,
            "unmanaged_tables": tables,
            "inventory_error": inventory_error,
        }
        findings: list[str] = []
        if drifted:
            findings.append(
                f"{len(drifted)} source stacks drifted ({drifted_resources} resources): "
                f"{', '.join(drifted)}; redeclare the actual state in the target templates"
            )
        if not_checked:
            findings.append(
                f"drift not determined for {len(not_checked)} stacks: "
                + ", ".join(list(not_checked)[:_SHOWN])
            )
        if unchecked:
            findings.append(
                f"drift unknown for {unchecked_count} resources CloudFormation did not check "
                f"(in {shown(list(unchecked))})"
            )
        if tables:
            findings.append(table_clause(tables))
        if inventory_error:
            findings.append("DynamoDB tables outside the stacks not inventoried")
        if findings:
            return CheckResult.warned("; ".join(findings), details, **evidence)
        return CheckResult.passed(
            f"{len(in_sync)} source stacks IN_SYNC with their templates, every resource "
            "checked; no DynamoDB table outside a stack",
            details,
            **evidence,
        )

    def emulated(self, ctx: CheckContext, client: Any) -> CheckResult:
        # moto has no drift detection; reporting "in sync" would be invented. The
        # table inventory uses plain reads the emulator has, so it still runs.
        tables, inventory_error = inventory(ctx, client, {})
        summary = "not checked: the embedded emulator has no CloudFormation drift detection"
        if tables:
            summary += f"; {table_clause(tables)}"
        details = [
            "moto implements neither DetectStackDrift nor DescribeStackResourceDrifts; "
            "against real AWS this check lists each drifted resource and property",
            *(table_line(t) for t in tables),
        ]
        if inventory_error:
            details.append(f"DynamoDB tables not inventoried: {inventory_error}")
        return CheckResult.skipped(
            summary,
            details,
            emulated=True,
            unmanaged_tables=tables,
            inventory_error=inventory_error,
        )
