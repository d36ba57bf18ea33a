"""cfn.stacks against real moto stacks in the target."""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.models import cloudformation_backends

from runbook.checkapi import CheckContext, Status
from tests.support.checks import run_check as run
from tests.support.runbooks import REGION, TARGET

TEMPLATE = json.dumps(
    {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}}}
)


def create_stack(admin: Any, name: str, status: str | None = None) -> None:
    """A real moto stack; `status` forces a state moto never reaches by itself (rollbacks)."""
    stack_id = (
        admin("target")
        .client("cloudformation")
        .create_stack(StackName=name, TemplateBody=TEMPLATE)["StackId"]
    )
    if status is not None:
        cloudformation_backends[TARGET][REGION].stacks[stack_id].status = status


def test_cfn_stacks_completed_pass(admin: Any, check_context: CheckContext) -> None:
    create_stack(admin, "network")
    create_stack(admin, "app")
    updated = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    admin("target").client("cloudformation").update_stack(
        StackName="app", TemplateBody=json.dumps(updated)
    )
    create_stack(admin, "imported", "IMPORT_COMPLETE")
    result = run(check_context, "cfn.stacks")
    assert result.status == Status.PASS, result
    assert result.evidence["stacks"] == {
        "network": "CREATE_COMPLETE",
        "app": "UPDATE_COMPLETE",
        "imported": "IMPORT_COMPLETE",
    }
    named = run(check_context, "cfn.stacks", {"stacks": ["app"]})
    assert named.status == Status.PASS, named
    assert named.evidence["stacks"] == {"app": "UPDATE_COMPLETE"}


def test_cfn_stacks_rollback_failed_or_unsettled_fail_each_named_with_its_meaning(
    admin: Any, check_context: CheckContext
) -> None:
    create_stack(admin, "network")
    bad = {
        "app": ("ROLLBACK_COMPLETE", "delete the stack and create it again"),
        "data": ("UPDATE_ROLLBACK_COMPLETE", "the stack runs the previous template"),
        "edge": ("UPDATE_IN_PROGRESS", "still in progress"),
        "jobs": ("CREATE_FAILED", "see the stack events"),
        "auth": ("IMPORT_ROLLBACK_COMPLETE", "the stack runs the previous template"),
    }
    for name, (status, _) in bad.items():
        create_stack(admin, name, status)
    result = run(check_context, "cfn.stacks")
    assert result.status == Status.FAIL, result
    assert result.summary.startswith("5 of 6 stacks not deployed: ")
    assert "network" not in result.summary
    for name, (status, hint) in bad.items():
        assert name in result.summary
        line = next(d for d in result.details if d.startswith(f"{name}: "))
        assert line.startswith(f"{name}: {status} - ") and hint in line, line
    # Problems first, the good stack last.
    assert result.details[-1] == "network: CREATE_COMPLETE"


def test_cfn_stacks_named_stack_missing_fails(admin: Any, check_context: CheckContext) -> None:
    create_stack(admin, "network")
    result = run(check_context, "cfn.stacks", {"stacks": ["network", "data"]})
    assert result.status == Status.FAIL, result
    assert "data" in result.summary and "network" not in result.summary
    assert "data: does not exist in the target" in result.details


def test_cfn_stacks_empty_target_fails(check_context: CheckContext) -> None:
    result = run(check_context, "cfn.stacks")
    assert result.status == Status.FAIL, result
    assert "no CloudFormation stacks" in result.summary
