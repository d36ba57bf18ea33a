"""refs.source_account: Lambda, CloudFormation, ECS and CodeBuild in the target (moto)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from checks.refs.source_account import ALL_SURFACES as SURFACES
from runbook.checkapi import CheckContext, Status
from tests.support.checks import result_text as text
from tests.support.checks import run_check as run
from tests.support.checks import service_role
from tests.support.runbooks import REGION, SOURCE, TARGET


def lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


@pytest.fixture
def clean_target(admin: Any, check_context: CheckContext) -> dict[str, str]:
    """One resource per surface, each referring only to the target (and a near-miss number)."""
    session = admin("target")
    role = service_role(admin, "lambda")
    session.client("lambda").create_function(
        FunctionName="orders-api",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": lambda_zip()},
        Environment={
            "Variables": {
                "TABLE_ARN": f"arn:aws:dynamodb:{REGION}:{TARGET}:table/orders",
                # Longer numbers that contain the source ID are not the account ID.
                "ORDER_SEQ": f"{SOURCE}9",
                "INVOICE_SEQ": f"9{SOURCE}",
            }
        },
    )
    template = {
        "Resources": {"Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}}
    }
    session.client("cloudformation").create_stack(
        StackName="app", TemplateBody=json.dumps(template)
    )
    session.client("ecs").register_task_definition(
        family="web",
        containerDefinitions=[
            {
                "name": "app",
                "image": f"{TARGET}.dkr.ecr.{REGION}.amazonaws.com/web:1.4.2",
                "memory": 256,
                "environment": [{"name": "STAGE", "value": "prod"}],
            }
        ],
    )
    session.client("codebuild").create_project(
        name="web-build",
        source={"type": "S3", "location": "artifacts-bucket/src.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [
                {"name": "REPO", "value": f"{TARGET}.dkr.ecr.{REGION}.amazonaws.com/web"}
            ],
        },
        serviceRole=service_role(admin, "codebuild"),
    )
    return {"lambda_role": role}


def test_refs_clean_target_passes(
    check_context: CheckContext, clean_target: dict[str, str]
) -> None:
    result = run(check_context, "refs.source_account")
    assert result.status == Status.PASS, result
    scanned = result.evidence["scanned"]
    assert {s: scanned[s] for s in ("lambda", "cloudformation", "ecs", "codebuild")} == {
        "lambda": 1,
        "cloudformation": 1,
        "ecs": 1,
        "codebuild": 1,
    }
    # Every surface is scanned by default, and named in the summary.
    assert set(scanned) == set(SURFACES)
    assert all(f"{s} {n}" in result.summary for s, n in scanned.items())


def test_refs_lambda_env_var_fails_naming_function_and_variable(
    admin: Any, check_context: CheckContext, clean_target: dict[str, str]
) -> None:
    admin("target").client("lambda").create_function(
        FunctionName="billing-worker",
        Runtime="python3.12",
        Role=clean_target["lambda_role"],
        Handler="handler.handler",
        Code={"ZipFile": lambda_zip()},
        Environment={
            "Variables": {
                "QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{SOURCE}/billing",
                "DB_PASSWORD": f"x{SOURCE}x!",
            }
        },
    )
    result = run(check_context, "refs.source_account")
    assert result.status == Status.FAIL, result
    assert "lambda billing-worker" in result.summary
    body = text(result)
    assert (
        f"lambda billing-worker: QUEUE_URL = https://sqs.{REGION}.amazonaws.com/{SOURCE}/billing"
        in body
    )
    # A secret-looking variable is named but its value never shown.
    assert "lambda billing-worker: DB_PASSWORD = (value hidden)" in body
    assert f"x{SOURCE}x!" not in json.dumps(result.evidence)
    assert "orders-api" not in body


def test_refs_cloudformation_template_fails_naming_stack_and_path(
    admin: Any, check_context: CheckContext, clean_target: dict[str, str]
) -> None:
    cfn = admin("target").client("cloudformation")
    template = {
        # Account-keyed mappings are a common copy-paste leftover.
        "Mappings": {"Accounts": {SOURCE: {"Stage": "prod"}}},
        "Resources": {
            "Fn": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": f"copied-from-{SOURCE}"},
            }
        },
    }
    cfn.create_stack(StackName="pipeline", TemplateBody=json.dumps(template))
    yaml_body = (
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        f"      QueueName: legacy-{SOURCE}\n"
    )
    cfn.create_stack(StackName="queues", TemplateBody=yaml_body)
    result = run(check_context, "refs.source_account", {"surfaces": ["cloudformation"]})
    assert result.status == Status.FAIL, result
    body = text(result)
    assert "cloudformation pipeline: template Resources.Fn.Properties.TopicName" in body
    assert f"cloudformation pipeline: template Mappings.Accounts.{SOURCE} (key)" in body
    assert "cloudformation queues: template line 5" in body
    assert "cloudformation app" not in body
    assert result.evidence["scanned"] == {"cloudformation": 3}


def test_refs_ecs_image_from_the_source_registry_fails(
    admin: Any, check_context: CheckContext, clean_target: dict[str, str]
) -> None:
    admin("target").client("ecs").register_task_definition(
        family="worker",
        containerDefinitions=[
            {
                "name": "jobs",
                "image": f"{SOURCE}.dkr.ecr.{REGION}.amazonaws.com/jobs:2.0",
                "memory": 256,
            }
        ],
    )
    result = run(check_context, "refs.source_account")
    assert result.status == Status.FAIL, result
    assert "ecs worker:1" in result.summary
    assert "ecs worker:1: container jobs image (ECR image URI in the source registry)" in text(
        result
    )
    assert result.evidence["references"][0]["ecr_image"] is True


def test_refs_codebuild_env_var_fails_and_allow_list_clears_it(
    admin: Any, check_context: CheckContext, clean_target: dict[str, str]
) -> None:
    admin("target").client("codebuild").create_project(
        name="deploy",
        source={"type": "S3", "location": "artifacts-bucket/src.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [
                {"name": "ASSUME_ROLE", "value": f"arn:aws:iam::{SOURCE}:role/deployer"}
            ],
        },
        serviceRole=service_role(admin, "codebuild-deploy"),
    )
    result = run(check_context, "refs.source_account")
    assert result.status == Status.FAIL, result
    assert f"codebuild deploy: env ASSUME_ROLE = arn:aws:iam::{SOURCE}:role/deployer" in text(
        result
    )

    allowed = run(
        check_context, "refs.source_account", {"allow": ["codebuild:deploy:env ASSUME_*"]}
    )
    assert allowed.status == Status.PASS, allowed
    assert "allowed by `allow`: codebuild deploy: env ASSUME_ROLE" in allowed.details
