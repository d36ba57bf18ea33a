"""cfn.drift: which source stacks drifted, and how, so the target templates can redeclare it.

`DetectStackDrift` is on the source's read-only allowlist: it records a
detection run and changes no stack and no resource. Detection is asynchronous:
all runs are started first, then polled with an explicit delay until a
deadline; a stack still running at the deadline is reported as undetermined,
never as in sync. Advisory: drift is work for the target's templates, not a
reason to stop the cutover.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

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
SCOPE_NOTE = (
    "drift detection sees only resources a stack declares: resources created outside "
    "CloudFormation (e.g. console-made DynamoDB tables) need their own inventory"
)
_MAX_VALUE = 200


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
        ),
        remediation=(
            "For each drifted resource, read its actual state from the source (describe-table, "
            "get-bucket-*, ...) and write it into the target account's template before "
            "deploying; never fix drift in the source, it is read-only."
        ),
    )
    params_model = DriftParams

    def run(self, ctx: CheckContext, params: DriftParams) -> CheckResult:
        if ctx.emulated:
            # moto has no drift detection; reporting "in sync" would be invented.
            return CheckResult.skipped(
                "not checked: the embedded emulator has no CloudFormation drift detection",
                [
                    "moto implements neither DetectStackDrift nor DescribeStackResourceDrifts; "
                    "against real AWS this check lists each drifted resource and property"
                ],
                emulated=True,
            )
        client = ctx.client("source", "cloudformation")
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
                status = client.describe_stack_drift_detection_status(
                    StackDriftDetectionId=detection
                )
                if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
                    finished[name] = status
                    del pending[name]
            remaining = (deadline - ctx.now()).total_seconds()
            if not pending or remaining <= 0:
                break
            time.sleep(min(params.poll_delay_s, remaining))
        for name in pending:
            not_checked[name] = f"detection still running after {params.deadline_s:g}s"

        details: list[str] = []
        report: dict[str, Any] = {}
        drifted: list[str] = []
        drifted_resources = 0
        for name, status in finished.items():
            drift_status = status.get("StackDriftStatus", "UNKNOWN")
            entry: dict[str, Any] = {
                "detection_id": status.get("StackDriftDetectionId"),
                "detection_status": status["DetectionStatus"],
                "drift_status": drift_status,
                "drifted_resources": status.get("DriftedStackResourceCount", 0),
                "reason": status.get("DetectionStatusReason"),
                "resources": [],
            }
            report[name] = entry
            failed = status["DetectionStatus"] == "DETECTION_FAILED"
            if drift_status != "DRIFTED":
                # A failed run that found no drift has not shown the stack is in sync.
                if failed:
                    reason = status.get("DetectionStatusReason", "no reason given")
                    not_checked[name] = f"detection failed: {reason}"
                elif drift_status != "IN_SYNC":
                    not_checked[name] = f"drift status {drift_status}"
                continue
            if failed:
                # Partial: results exist for the resources that could be checked.
                details.append(
                    f"{name}: detection failed for some resources: "
                    f"{status.get('DetectionStatusReason', 'no reason given')}"
                )
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
                details.extend(
                    f"  {d['path']}: {d['type']} expected {clip(d['expected'])} "
                    f"actual {clip(d['actual'])}"
                    for d in diffs
                )
        details.extend(f"{name}: not determined: {why}" for name, why in not_checked.items())
        details.append(f"note: {SCOPE_NOTE}")

        in_sync = [
            n
            for n, e in report.items()
            if e["drift_status"] == "IN_SYNC" and e["detection_status"] == "DETECTION_COMPLETE"
        ]
        evidence: dict[str, Any] = {
            "stacks": report,
            "not_checked": not_checked,
            "in_sync": in_sync,
        }
        if drifted:
            return CheckResult.warned(
                f"{len(drifted)} source stacks drifted ({drifted_resources} resources): "
                f"{', '.join(drifted)}; redeclare the actual state in the target templates",
                details,
                **evidence,
            )
        if not_checked:
            return CheckResult.warned(
                f"drift not determined for {len(not_checked)} stacks: "
                + ", ".join(list(not_checked)[:5]),
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"{len(in_sync)} source stacks IN_SYNC with their templates", details, **evidence
        )
