"""codestar.connections, refs.source_account and alarms.topics against moto in two accounts.

moto has no CodeStar Connections/CodeConnections, so those two clients are
stubbed with botocore's Stubber (real response shapes); pipelines, functions,
stacks, task definitions, projects, topics and alarms are real moto resources.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from typing import Any

import pytest
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, CheckResult, Status
from tests.helpers import REGION, SOURCE, TARGET
from tests.helpers import run_check as run


def text(result: CheckResult) -> str:
    return "\n".join([result.summary, *result.details])


def service_role(admin: Any, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = admin("target").client("iam")
    name = f"{service}-role"
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


# --- codestar.connections ---------------------------------------------------------------

CS = f"arn:aws:codestar-connections:{REGION}"
CC = f"arn:aws:codeconnections:{REGION}"
CS_AVAILABLE = f"{CS}:{TARGET}:connection/aaaa1111-0000-4000-8000-000000000001"
CS_PENDING = f"{CS}:{TARGET}:connection/bbbb2222-0000-4000-8000-000000000002"
CC_AVAILABLE = f"{CC}:{TARGET}:connection/cccc3333-0000-4000-8000-000000000003"
SOURCE_CONN = f"{CS}:{SOURCE}:connection/dddd4444-0000-4000-8000-000000000004"


def conn(name: str, arn: str, status: str, provider: str = "GitHub") -> dict[str, Any]:
    return {
        "ConnectionName": name,
        "ConnectionArn": arn,
        "ProviderType": provider,
        "OwnerAccountId": TARGET,
        "ConnectionStatus": status,
    }


def make_pipeline(admin: Any, role: str, name: str, connection_arn: str) -> None:
    admin("target").client("codepipeline").create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role,
            "artifactStore": {"type": "S3", "location": "artifacts-bucket"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "GitHub",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "CodeStarSourceConnection",
                                "version": "1",
                            },
                            "configuration": {
                                "ConnectionArn": connection_arn,
                                "FullRepositoryId": f"acme/{name}",
                                "BranchName": "main",
                            },
                            "outputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        {
                            "name": "Build",
                            "actionTypeId": {
                                "category": "Build",
                                "owner": "AWS",
                                "provider": "CodeBuild",
                                "version": "1",
                            },
                            "configuration": {"ProjectName": f"{name}-build"},
                            "inputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
            ],
        }
    )


@pytest.fixture
def pipelines(admin: Any, check_context: CheckContext) -> None:
    role = service_role(admin, "codepipeline")
    make_pipeline(admin, role, "web", CS_PENDING)
    make_pipeline(admin, role, "api", CC_AVAILABLE)


def stub_connections(
    ctx: CheckContext, codestar: list[list[dict[str, Any]]], codeconn: list[list[dict[str, Any]]]
) -> tuple[Stubber, Stubber]:
    """Pages of ListConnections for each service; pages after the first follow a NextToken."""
    stubbers = []
    for service, pages in (("codestar-connections", codestar), ("codeconnections", codeconn)):
        stubber = Stubber(ctx.client("target", service))
        for index, page in enumerate(pages):
            response: dict[str, Any] = {"Connections": page}
            if index < len(pages) - 1:
                response["NextToken"] = f"token-{index + 1}"
            expected = {"NextToken": f"token-{index}"} if index else {}
            stubber.add_response("list_connections", response, expected)
        stubber.activate()
        stubbers.append(stubber)
    return stubbers[0], stubbers[1]


def test_connections_pending_fails_naming_it_the_console_step_and_the_pipeline(
    check_context: CheckContext, pipelines: None
) -> None:
    # The same connection comes back from both APIs, once under each service prefix:
    # it must be counted once.
    cs, cc = stub_connections(
        check_context,
        [
            [conn("github-main", CS_AVAILABLE, "AVAILABLE")],
            [conn("github-web", CS_PENDING, "PENDING")],
        ],
        [
            [
                conn("github-main", CS_AVAILABLE.replace(CS, CC), "AVAILABLE"),
                conn("bitbucket", CC_AVAILABLE, "AVAILABLE", "Bitbucket"),
            ]
        ],
    )
    result = run(check_context, "codestar.connections")
    cs.assert_no_pending_responses()
    cc.assert_no_pending_responses()

    assert result.status == Status.FAIL, result
    assert "github-web" in result.summary
    assert "web" in result.summary.split("pipelines affected:")[1]
    assert "api" not in result.summary.split("pipelines affected:")[1]
    body = text(result)
    assert "Update pending connection" in body
    assert "Settings > Connections" in body
    assert "pipeline web (stage Source, action GitHub) uses PENDING connection github-web" in body
    assert len(result.evidence["connections"]) == 3
    by_name = {c["name"]: c for c in result.evidence["connections"]}
    assert by_name["github-main"]["services"] == ["codestar-connections", "codeconnections"]


def test_connections_all_available_pass(check_context: CheckContext, pipelines: None) -> None:
    stub_connections(
        check_context,
        [
            [
                conn("github-main", CS_AVAILABLE, "AVAILABLE"),
                conn("github-web", CS_PENDING, "AVAILABLE"),
            ]
        ],
        [[conn("bitbucket", CC_AVAILABLE, "AVAILABLE", "Bitbucket")]],
    )
    result = run(check_context, "codestar.connections", {"required": ["github-web"]})
    assert result.status == Status.PASS, result
    assert "3 connections AVAILABLE" in result.summary
    assert "2 pipeline actions in 2 pipelines" in result.summary


def test_connections_pipeline_on_the_source_accounts_connection_fails(
    admin: Any, check_context: CheckContext
) -> None:
    make_pipeline(admin, service_role(admin, "codepipeline"), "legacy", SOURCE_CONN)
    stub_connections(check_context, [[conn("github-main", CS_AVAILABLE, "AVAILABLE")]], [[]])
    result = run(check_context, "codestar.connections")
    assert result.status == Status.FAIL, result
    assert "legacy" in result.summary
    assert f"uses the SOURCE account {SOURCE}'s connection: {SOURCE_CONN}" in text(result)


def test_connections_required_but_missing_fails(check_context: CheckContext) -> None:
    stub_connections(check_context, [[conn("github-main", CS_AVAILABLE, "AVAILABLE")]], [[]])
    result = run(check_context, "codestar.connections", {"required": ["github-main", "gitlab"]})
    assert result.status == Status.FAIL, result
    assert "missing: gitlab" in result.summary


def test_connections_skipped_in_the_emulator_without_calling_aws(
    check_context: CheckContext,
) -> None:
    # Activated stubbers with no responses: any call would raise.
    stub_connections(check_context, [], [])
    ctx = dataclasses.replace(check_context, emulated=True)
    result = run(ctx, "codestar.connections")
    assert result.status == Status.SKIPPED, result
    assert "emulator" in result.summary


# --- refs.source_account ----------------------------------------------------------------


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
    assert result.evidence["scanned"] == {
        "lambda": 1,
        "cloudformation": 1,
        "ecs": 1,
        "codebuild": 1,
    }


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


# --- alarms.topics ----------------------------------------------------------------------


def put_alarm(admin: Any, name: str, **actions: list[str]) -> None:
    admin("target").client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        **actions,
    )


@pytest.fixture
def target_topic(admin: Any, check_context: CheckContext) -> str:
    return str(admin("target").client("sns").create_topic(Name="oncall")["TopicArn"])


def test_alarms_target_topics_pass(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    put_alarm(
        admin,
        "api-5xx",
        AlarmActions=[target_topic, f"arn:aws:automate:{REGION}:ec2:reboot"],
        OKActions=[target_topic],
    )
    result = run(check_context, "alarms.topics")
    assert result.status == Status.PASS, result
    assert "2 SNS actions on 1 alarms" in result.summary


def test_alarm_on_the_source_accounts_topic_fails_and_says_so(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    source_topic = f"arn:aws:sns:{REGION}:{SOURCE}:oncall"
    put_alarm(admin, "api-5xx", AlarmActions=[target_topic])
    put_alarm(admin, "db-cpu", AlarmActions=[target_topic], OKActions=[source_topic])
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert "db-cpu" in result.summary and "api-5xx" not in result.summary
    assert "at the source account" in result.summary
    assert f"alarm db-cpu: OKActions -> {source_topic} (topic in the SOURCE account {SOURCE})" in (
        result.details
    )


def test_alarm_on_a_third_accounts_topic_fails(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    foreign = f"arn:aws:sns:{REGION}:999999999999:ops"
    put_alarm(admin, "queue-depth", InsufficientDataActions=[foreign])
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert "source" not in result.summary.lower()
    line = f"alarm queue-depth: InsufficientDataActions -> {foreign}"
    assert f"{line} (topic in foreign account 999999999999)" in result.details


def test_alarm_on_a_missing_target_topic_fails_unless_not_required(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    missing = f"arn:aws:sns:{REGION}:{TARGET}:not-created-yet"
    put_alarm(admin, "latency", AlarmActions=[missing])
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert f"alarm latency: AlarmActions -> {missing} (topic does not exist in the target)" in (
        result.details
    )
    relaxed = run(check_context, "alarms.topics", {"require_topic_exists": False})
    assert relaxed.status == Status.PASS, relaxed
