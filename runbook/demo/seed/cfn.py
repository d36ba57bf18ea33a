"""CloudFormation: the source's stacks and the target's, rebuilt from clean templates."""

from __future__ import annotations

import json
from typing import Any

from runbook.demo.model import AccountName, DemoWorld


def _template(description: str, parameters: dict[str, str]) -> str:
    resources: dict[str, Any] = {
        "".join(part.capitalize() for part in key.replace("/", "-").split("-") if part): {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": key, "Type": "String", "Value": value},
        }
        for key, value in parameters.items()
    }
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
            cfn.create_stack(
                StackName=name,
                TemplateBody=_template(f"{name} ({account})", values[name]),
                Tags=[{"Key": "app", "Value": "acme"}],
            )
