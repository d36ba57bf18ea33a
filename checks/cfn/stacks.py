"""cfn.stacks: the target's stacks finished deploying, and not by rolling back.

`ROLLBACK_COMPLETE` and `UPDATE_ROLLBACK_COMPLETE` end in `_COMPLETE` too, but
mean the stack does not run the template it was given; only a create, update
or import that completed counts.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

GOOD = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"})


class StacksParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stacks: tuple[str, ...] = Field(
        default=(),
        description="Stack names (or stack IDs) that must be deployed; empty means every stack.",
    )


def hint(status: str) -> str:
    """What a bad status means for the operator."""
    if status == "ROLLBACK_COMPLETE":
        return "creation failed and was rolled back: delete the stack and create it again"
    if status in ("UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"):
        return "the last change failed and was rolled back: the stack runs the previous template"
    if status == "DELETE_COMPLETE":
        return "the stack was deleted"
    if status.endswith("_IN_PROGRESS"):
        return "still in progress: re-run when it settles"
    if status.endswith("_FAILED"):
        return "failed: see the stack events, fix, and retry (continue-update-rollback if stuck)"
    return "not a completed create, update or import"


def is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message"))


class StacksCheck(Check[StacksParams]):
    meta = CheckMeta(
        id="cfn.stacks",
        title="Target CloudFormation stacks are deployed (no rollback, no failure)",
        account="target",
        blocking=True,
        severity="high",
        iam_actions=("cloudformation:DescribeStacks",),
        remediation=(
            "Open each listed stack's Events tab in the target account, fix the cause, then "
            "redeploy (a ROLLBACK_COMPLETE stack must be deleted and created again)."
        ),
    )
    params_model = StacksParams

    def run(self, ctx: CheckContext, params: StacksParams) -> CheckResult:
        client = ctx.client("target", "cloudformation")
        stacks: list[dict[str, Any]] = []
        missing: list[str] = []
        if params.stacks:
            for name in dict.fromkeys(params.stacks):
                try:
                    stacks.extend(client.describe_stacks(StackName=name)["Stacks"])
                except ClientError as exc:
                    if not is_missing(exc):
                        raise
                    missing.append(name)
        else:
            for page in client.get_paginator("describe_stacks").paginate():
                stacks.extend(page.get("Stacks", []))
            if not stacks:
                region = ctx.runbook.accounts.target.region
                return CheckResult.failed(
                    f"no CloudFormation stacks in the target account ({region})",
                    ["the target is meant to be stood up with CloudFormation before cutover"],
                    stacks={},
                )

        # Problems first: the operator reads from the top.
        details: list[str] = [f"{name}: does not exist in the target" for name in missing]
        good: list[str] = []
        bad: list[str] = list(missing)
        statuses: dict[str, str] = {}
        for stack in stacks:
            name, status = stack["StackName"], stack["StackStatus"]
            statuses[name] = status
            if status in GOOD:
                good.append(f"{name}: {status}")
                continue
            bad.append(name)
            reason = stack.get("StackStatusReason")
            details.append(
                f"{name}: {status} - {hint(status)}" + (f" (reason: {reason})" if reason else "")
            )
        details.extend(good)

        evidence: dict[str, Any] = {"stacks": statuses, "missing": missing}
        if bad:
            return CheckResult.failed(
                f"{len(bad)} of {len(stacks) + len(missing)} stacks not deployed: "
                + ", ".join(bad[:5])
                + (" ..." if len(bad) > 5 else ""),
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"{len(stacks)} stacks deployed (CREATE/UPDATE/IMPORT_COMPLETE)", details, **evidence
        )
