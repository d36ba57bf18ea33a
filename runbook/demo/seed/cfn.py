"""CloudFormation: the source's stacks and the target's, rebuilt from clean templates.

The source also has what two-year-old accounts have: a DynamoDB table made by
hand in the console, which no stack declares (cfn.drift lists it to redeclare),
next to one its data stack does declare (which it does not list).
"""

from __future__ import annotations

import json
from typing import Any

from runbook.demo.model import AccountName, DemoWorld

MANAGED_TABLE = "acme-orders"
HAND_MADE_TABLE = "acme-sessions"
_TABLES: dict[str, dict[str, Any]] = {
    "acme-data": {
        "OrdersTable": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": MANAGED_TABLE,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "order_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
            },
        }
    }
}


def _template(
    description: str, parameters: dict[str, str], extra: dict[str, Any] | None = None
) -> str:
    resources: dict[str, Any] = {
        "".join(part.capitalize() for part in key.replace("/", "-").split("-") if part): {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": key, "Type": "String", "Value": value},
        }
        for key, value in parameters.items()
    }
    resources.update(extra or {})
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": description,
            "Resources": resources,
        }
    )


def seed_stacks(world: DemoWorld) -> None:
    """Every stack of both accounts; needs the networks, databases, alarms and pools seeded."""
    target_values = {
        "acme-network": {"/acme/network/vpc-id": world.target_vpc_id},
        "acme-data": {"/acme/data/db-instance": world.target_db_id},
        "acme-app": {
            "/acme/app/user-pool-id": world.target_pool_id,
            "/acme/app/alerts-topic": world.target_topic_arn,
        },
    }
    source_values = {
        "acme-data": {"/acme/data/db-instance": world.db_writer_id},
        "acme-app": {"/acme/app/user-pool-id": world.source_pool_id},
    }
    plan: list[tuple[AccountName, list[str], dict[str, dict[str, str]]]] = [
        ("target", world.target_stacks, target_values),
        ("source", world.source_stacks, source_values),
    ]
    for account, stacks, values in plan:
        cfn = world.client(account, "cloudformation")
        for name in stacks:
            extra = _TABLES.get(name) if account == "source" else None
            cfn.create_stack(
                StackName=name,
                TemplateBody=_template(f"{name} ({account})", values[name], extra),
                Tags=[{"Key": "app", "Value": "acme"}],
            )
    seed_hand_made_table(world)


def seed_hand_made_table(world: DemoWorld) -> None:
    """A sessions table someone created in the source's console: in no stack."""
    ddb = world.client("source", "dynamodb")
    ddb.create_table(
        TableName=HAND_MADE_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "session_id", "AttributeType": "S"},
            {"AttributeName": "user_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-user",
                "KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        Tags=[{"Key": "app", "Value": "acme"}],
    )
    ddb.update_time_to_live(
        TableName=HAND_MADE_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
