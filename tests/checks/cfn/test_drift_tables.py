"""cfn.drift's inventory of the source's DynamoDB tables that no stack manages.

The tables are real (moto's DynamoDB has every read the inventory makes); the
CloudFormation side is stubbed where moto has no drift detection, and real
moto in the emulated case, which is what the demo runs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, Status
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
from tests.support.checks import result_text
from tests.support.checks import run_check as run


@pytest.fixture
def cfn_stub(check_context: CheckContext) -> Iterator[Stubber]:
    stubber = Stubber(check_context.client("source", "cloudformation"))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def make_table(ddb: Any, name: str, **extra: Any) -> None:
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        **extra,
    )


def stack_summary(name: str, status: str) -> dict[str, Any]:
    return {
        "StackId": stack_id(name),
        "StackName": name,
        "CreationTime": T0,
        "StackStatus": status,
    }


def test_cfn_drift_lists_tables_no_stack_manages(
    check_context: CheckContext, cfn_stub: Stubber, admin: Any
) -> None:
    ddb = admin("source").client("dynamodb")
    make_table(ddb, "orders")  # declared by the checked stack
    make_table(ddb, "legacy")  # declared by a stack the runbook does not name
    make_table(ddb, "retained")  # its stack is deleted: nothing manages it any more
    ddb.create_table(  # made by hand in the console
        TableName="sessions",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2},
        AttributeDefinitions=[
            {"AttributeName": "sid", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
            {"AttributeName": "user", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "sid", "KeyType": "HASH"},
            {"AttributeName": "at", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-user",
                "KeySchema": [{"AttributeName": "user", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "owner", "Value": "ops"}],
    )
    ddb.update_time_to_live(
        TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    ddb.update_continuous_backups(
        TableName="sessions",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )

    expect_detect(cfn_stub, "data")
    expect_status(cfn_stub, "data", detection("data", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_resources(
        cfn_stub, "data", [resource("Orders", "AWS::DynamoDB::Table", "IN_SYNC", "orders")]
    )
    cfn_stub.add_response(
        "list_stacks",
        {
            "StackSummaries": [
                stack_summary("data", "UPDATE_COMPLETE"),  # read already: not listed again
                stack_summary("old-app", "ROLLBACK_COMPLETE"),
                stack_summary("gone", "DELETE_COMPLETE"),
            ]
        },
        {},
    )
    cfn_stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                resource("Legacy", "AWS::DynamoDB::Table", None, "legacy"),
                resource("Fn", "AWS::Lambda::Function", None, "sessions"),  # not a table
            ]
        },
        {"StackName": stack_id("old-app")},
    )
    result = run(check_context, "cfn.drift", {"stacks": ["data"], **FAST})

    assert result.status == Status.WARN, result
    unmanaged = {t["name"]: t for t in result.evidence["unmanaged_tables"]}
    assert set(unmanaged) == {"retained", "sessions"}
    assert result.summary.startswith("2 source DynamoDB tables no stack manages: ")
    assert "retained" in result.summary and "sessions" in result.summary
    assert result.summary.endswith("; redeclare them in the target templates")
    line = next(d for d in result.details if d.startswith("table sessions: "))
    assert line == (
        "table sessions: keys sid (S) HASH, at (N) RANGE; PROVISIONED; RCU 5/WCU 2; "
        "GSI by-user: user (S) HASH; stream NEW_IMAGE; TTL exp; PITR ENABLED; 1 tags"
    )
    sessions = unmanaged["sessions"]
    assert sessions["tags"] == {"owner": "ops"}
    assert sessions["attribute_definitions"] == {"sid": "S", "at": "N", "user": "S"}
    assert unmanaged["retained"]["key_schema"] == "pk (S) HASH"
    assert unmanaged["retained"]["ttl"] is None
    assert result.evidence["in_sync"] == ["data"]  # the drift half still passes
    json.dumps(result.evidence)


def test_cfn_drift_every_table_in_a_stack_passes(
    check_context: CheckContext, cfn_stub: Stubber, admin: Any
) -> None:
    make_table(admin("source").client("dynamodb"), "orders")
    expect_detect(cfn_stub, "data")
    expect_status(cfn_stub, "data", detection("data", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_resources(
        cfn_stub, "data", [resource("Orders", "AWS::DynamoDB::Table", "IN_SYNC", "orders")]
    )
    cfn_stub.add_response(
        "list_stacks", {"StackSummaries": [stack_summary("data", "UPDATE_COMPLETE")]}, {}
    )
    result = run(check_context, "cfn.drift", {"stacks": ["data"], **FAST})
    assert result.status == Status.PASS, result
    assert result.evidence["unmanaged_tables"] == []


def test_cfn_drift_tables_it_may_not_list_are_not_a_pass(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    expect_detect(cfn_stub, "network")
    expect_status(cfn_stub, "network", detection("network", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_resources(cfn_stub, "network", in_sync("network"))
    with Stubber(check_context.client("source", "dynamodb")) as ddb_stub:
        ddb_stub.add_client_error(
            "list_tables",
            service_error_code="AccessDeniedException",
            service_message="not authorized to perform: dynamodb:ListTables",
            http_status_code=400,
        )
        result = run(check_context, "cfn.drift", {"stacks": ["network"], **FAST})
        ddb_stub.assert_no_pending_responses()
    assert result.status == Status.WARN, result
    assert result.summary == "DynamoDB tables outside the stacks not inventoried"
    assert "dynamodb:ListTables" in result_text(result)
    assert result.evidence["in_sync"] == ["network"]


def test_cfn_drift_in_the_emulator_still_lists_hand_made_tables(
    check_context: CheckContext, admin: Any
) -> None:
    source = admin("source")
    make_table(source.client("dynamodb"), "console-made")
    template = {
        "Resources": {
            "Orders": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "orders",
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            }
        }
    }
    source.client("cloudformation").create_stack(
        StackName="data", TemplateBody=json.dumps(template)
    )
    ctx = dataclasses.replace(check_context, emulated=True)
    result = run(ctx, "cfn.drift", {"stacks": ["data"]})
    # Drift itself is unknown there: skipped, never a pass; the tables are real reads.
    assert result.status == Status.SKIPPED, result
    assert result.summary == (
        "not checked: the embedded emulator has no CloudFormation drift detection; "
        "1 source DynamoDB tables no stack manages: console-made; "
        "redeclare them in the target templates"
    )
    assert "table console-made: keys pk (S) HASH; PAY_PER_REQUEST" in result_text(result)
    assert [t["name"] for t in result.evidence["unmanaged_tables"]] == ["console-made"]
