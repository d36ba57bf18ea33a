"""cfn.drift on the guarded source client.

moto has no drift detection, so the client runs under botocore's Stubber with
real response shapes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, Status
from runbook.registry import CheckRegistry
from tests.support.cfndrift import (
    FAST,
    T0,
    detection,
    expect_detect,
    expect_resources,
    expect_status,
    in_sync,
    resource,
    stack_id,
)
from tests.support.checks import run_check as run


@pytest.fixture
def cfn_stub(check_context: CheckContext) -> Iterator[Stubber]:
    # The guarded source client itself: proves every call is on the read-only allowlist.
    stubber = Stubber(check_context.client("source", "cloudformation"))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def test_cfn_drift_lists_drifted_resources_and_property_differences(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    expect_detect(cfn_stub, "app")
    expect_detect(cfn_stub, "data")
    expect_status(cfn_stub, "app", detection("app", "DETECTION_IN_PROGRESS"))
    expect_status(cfn_stub, "data", detection("data", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "DRIFTED", 2))
    expect_resources(cfn_stub, "data", in_sync("data"))
    expect_resources(
        cfn_stub,
        "app",
        [
            resource("OrdersTable", "AWS::DynamoDB::Table", "MODIFIED", "orders-prod"),
            resource("UploadsBucket", "AWS::S3::Bucket", "DELETED", "uploads-prod"),
        ],
    )
    cfn_stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": stack_id("app"),
                    "LogicalResourceId": "OrdersTable",
                    "PhysicalResourceId": "orders-prod",
                    "ResourceType": "AWS::DynamoDB::Table",
                    "ExpectedProperties": '{"BillingMode":"PROVISIONED"}',
                    "ActualProperties": '{"BillingMode":"PAY_PER_REQUEST"}',
                    "PropertyDifferences": [
                        {
                            "PropertyPath": "/BillingMode",
                            "ExpectedValue": "PROVISIONED",
                            "ActualValue": "PAY_PER_REQUEST",
                            "DifferenceType": "NOT_EQUAL",
                        },
                        {
                            "PropertyPath": "/Tags/0",
                            "ExpectedValue": "null",
                            "ActualValue": '{"Key":"owner","Value":"ops"}',
                            "DifferenceType": "ADD",
                        },
                    ],
                    "StackResourceDriftStatus": "MODIFIED",
                    "Timestamp": T0,
                }
            ],
            "NextToken": "page-2",
        },
        {"StackName": "app", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    cfn_stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": stack_id("app"),
                    "LogicalResourceId": "UploadsBucket",
                    "PhysicalResourceId": "uploads-prod",
                    "ResourceType": "AWS::S3::Bucket",
                    "StackResourceDriftStatus": "DELETED",
                    "Timestamp": T0,
                }
            ]
        },
        {
            "StackName": "app",
            "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
            "NextToken": "page-2",
        },
    )
    result = run(check_context, "cfn.drift", {"stacks": ["app", "data"], **FAST})
    assert result.status == Status.WARN, result
    assert result.summary.startswith("1 source stacks drifted (2 resources): app;")
    assert "data" not in result.summary
    assert "app: AWS::DynamoDB::Table OrdersTable (orders-prod) MODIFIED" in result.details
    assert (
        "app: OrdersTable/BillingMode: NOT_EQUAL expected PROVISIONED actual PAY_PER_REQUEST"
        in result.details
    )
    assert "app: AWS::S3::Bucket UploadsBucket (uploads-prod) DELETED" in result.details
    app = result.evidence["stacks"]["app"]
    assert app["resources"][0]["differences"][1] == {
        "path": "/Tags/0",
        "expected": "null",
        "actual": '{"Key":"owner","Value":"ops"}',
        "type": "ADD",
    }
    assert result.evidence["in_sync"] == ["data"]
    json.dumps(result.evidence)  # serialisable


def test_cfn_drift_all_in_sync_passes_and_finds_stacks_itself(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    cfn_stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": stack_id(name),
                    "StackName": name,
                    "CreationTime": T0,
                    "StackStatus": status,
                }
                for name, status in (
                    ("network", "CREATE_COMPLETE"),
                    ("app", "UPDATE_ROLLBACK_COMPLETE"),
                    ("old", "ROLLBACK_COMPLETE"),
                )
            ]
        },
        {},
    )
    expect_detect(cfn_stub, "network")
    expect_detect(cfn_stub, "app")
    expect_status(cfn_stub, "network", detection("network", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_resources(cfn_stub, "network", in_sync("network"))
    expect_resources(cfn_stub, "app", in_sync("app"))
    result = run(check_context, "cfn.drift", {"stacks": [], **FAST})
    # ROLLBACK_COMPLETE cannot be drift-checked: said so, and not called in sync.
    assert result.status == Status.WARN, result
    assert "old" in result.summary
    assert result.evidence["in_sync"] == ["network", "app"]


def test_cfn_drift_in_sync_passes(check_context: CheckContext, cfn_stub: Stubber) -> None:
    expect_detect(cfn_stub, "network")
    expect_status(cfn_stub, "network", detection("network", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_resources(cfn_stub, "network", in_sync("network"))
    result = run(check_context, "cfn.drift", {"stacks": ["network"], **FAST})
    assert result.status == Status.PASS, result
    assert result.summary == (
        "1 source stacks IN_SYNC with their templates, every resource checked; "
        "no DynamoDB table outside a stack"
    )
    assert result.evidence["not_checked_resources"] == 0


def test_cfn_drift_in_sync_stack_with_unchecked_resources_is_not_called_in_sync(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    # AWS: the stack's StackDriftStatus is IN_SYNC when every resource it *checked* is;
    # types without drift support stay NOT_CHECKED (and DescribeStackResourceDrifts
    # leaves them out), so only ListStackResources shows them.
    expect_detect(cfn_stub, "app")
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_resources(
        cfn_stub,
        "app",
        [
            resource("Queue", "AWS::SQS::Queue", "IN_SYNC", "https://sqs/app-queue"),
            resource("Seeder", "Custom::Seed", "NOT_CHECKED", "seed-1"),
            resource("Ready", "AWS::CloudFormation::WaitCondition", "UNKNOWN", "wait-1"),
            resource("Api", "AWS::ApiGateway::Deployment", None, "dep-1"),
        ],
    )
    result = run(check_context, "cfn.drift", {"stacks": ["app"], **FAST})
    assert result.status == Status.WARN, result
    assert result.summary == "drift unknown for 3 resources CloudFormation did not check (in app)"
    for line in (
        "app: drift unknown, not checked: Seeder (Custom::Seed): NOT_CHECKED",
        "app: drift unknown, not checked: Ready (AWS::CloudFormation::WaitCondition): UNKNOWN",
        "app: drift unknown, not checked: Api (AWS::ApiGateway::Deployment): NOT_CHECKED",
    ):
        assert line in result.details
    assert "Queue" not in "\n".join(result.details)
    assert result.evidence["in_sync"] == []
    assert result.evidence["not_checked_resources"] == 3
    assert result.evidence["stacks"]["app"]["drift_status"] == "IN_SYNC"


def test_cfn_drift_drifted_stack_also_reports_its_unchecked_resources(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    expect_detect(cfn_stub, "app")
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "DRIFTED", 1))
    expect_resources(
        cfn_stub,
        "app",
        [
            resource("Topic", "AWS::SNS::Topic", "DELETED", "arn:aws:sns:topic"),
            resource("Seeder", "Custom::Seed", "NOT_CHECKED", "seed-1"),
        ],
    )
    cfn_stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": stack_id("app"),
                    "LogicalResourceId": "Topic",
                    "PhysicalResourceId": "arn:aws:sns:topic",
                    "ResourceType": "AWS::SNS::Topic",
                    "StackResourceDriftStatus": "DELETED",
                    "Timestamp": T0,
                }
            ]
        },
        {"StackName": "app", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    result = run(check_context, "cfn.drift", {"stacks": ["app"], **FAST})
    assert result.status == Status.WARN, result
    assert result.summary == (
        "1 source stacks drifted (1 resources): app; redeclare the actual state in the "
        "target templates; drift unknown for 1 resources CloudFormation did not check (in app)"
    )
    assert result.evidence["stacks"]["app"]["not_checked_resources"] == [
        "Seeder (Custom::Seed): NOT_CHECKED"
    ]


def test_cfn_drift_unreadable_resource_statuses_keep_the_drift_found(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    expect_detect(cfn_stub, "app")
    expect_detect(cfn_stub, "data")
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "DRIFTED", 1))
    expect_status(cfn_stub, "data", detection("data", "DETECTION_COMPLETE", "IN_SYNC"))
    for name in ("app", "data"):
        cfn_stub.add_client_error(
            "list_stack_resources",
            service_error_code="AccessDenied",
            service_message="not authorized to perform: cloudformation:ListStackResources",
            http_status_code=403,
            expected_params={"StackName": name},
        )
        if name == "app":
            cfn_stub.add_response(
                "describe_stack_resource_drifts",
                {
                    "StackResourceDrifts": [
                        {
                            "StackId": stack_id("app"),
                            "LogicalResourceId": "Topic",
                            "ResourceType": "AWS::SNS::Topic",
                            "StackResourceDriftStatus": "DELETED",
                            "Timestamp": T0,
                        }
                    ]
                },
                {"StackName": "app", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
            )
    result = run(check_context, "cfn.drift", {"stacks": ["app", "data"], **FAST})
    assert result.status == Status.WARN, result
    assert result.summary.startswith("1 source stacks drifted (1 resources): app;")
    assert "drift not determined for 2 stacks: app, data" in result.summary
    assert result.evidence["in_sync"] == []  # data's unchecked resources are unknown


def test_cfn_drift_deadline_reports_undetermined_not_in_sync(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    ticks = iter(T0 + timedelta(seconds=10 * i) for i in range(100))
    ctx = dataclasses.replace(check_context, now=lambda: next(ticks))
    expect_detect(cfn_stub, "app")
    # deadline 15 s at 10 s per clock read: two polls, both still running.
    expect_status(cfn_stub, "app", detection("app", "DETECTION_IN_PROGRESS"))
    expect_status(cfn_stub, "app", detection("app", "DETECTION_IN_PROGRESS"))
    result = run(ctx, "cfn.drift", {"stacks": ["app"], "poll_delay_s": 0, "deadline_s": 15})
    assert result.status == Status.WARN, result
    assert result.summary == "drift not determined for 1 stacks: app"
    assert "app: not determined: detection still running after 15s" in result.details


def test_cfn_drift_failed_detection_and_missing_stack_are_not_in_sync(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    cfn_stub.add_client_error(
        "detect_stack_drift",
        service_error_code="ValidationError",
        service_message="Stack with id gone does not exist",
        http_status_code=400,
        expected_params={"StackName": "gone"},
    )
    expect_detect(cfn_stub, "app")
    failed = detection("app", "DETECTION_FAILED", "IN_SYNC")
    failed["DetectionStatusReason"] = "Failed to detect drift on resource [Fn]"
    expect_status(cfn_stub, "app", failed)
    result = run(check_context, "cfn.drift", {"stacks": ["gone", "app"], **FAST})
    assert result.status == Status.WARN, result
    assert "gone: not determined: Stack with id gone does not exist" in result.details
    assert (
        "app: not determined: detection failed: Failed to detect drift on resource [Fn]"
        in result.details
    )
    assert result.evidence["in_sync"] == []


def test_cfn_drift_skipped_in_the_emulator(check_context: CheckContext, cfn_stub: Stubber) -> None:
    ctx = dataclasses.replace(check_context, emulated=True)
    result = run(ctx, "cfn.drift", {"stacks": ["app"]})
    assert result.status == Status.SKIPPED, result
    assert "no CloudFormation drift detection" in result.summary


def test_cfn_drift_is_advisory_and_reads_the_source() -> None:
    meta = CheckRegistry.discover(plugins=False).get("cfn.drift").meta
    assert meta.blocking is False
    assert meta.account == "source"
