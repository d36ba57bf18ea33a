"""IAM: the roles the demo's runbook and its Lambdas assume, in both accounts."""

from __future__ import annotations

import json
from typing import Any

from runbook.demo.model import DemoWorld

LAMBDA_ROLE = "acme-lambda-exec"


def assume_policy(principal: dict[str, Any], external_id: str | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def lambda_role_arn(world: DemoWorld) -> str:
    return f"arn:aws:iam::{world.target_account}:role/{LAMBDA_ROLE}"


def seed_iam(world: DemoWorld) -> None:
    target = world.client("target", "iam")
    target.create_role(
        RoleName=LAMBDA_ROLE,
        AssumeRolePolicyDocument=assume_policy({"Service": "lambda.amazonaws.com"}),
    )
    # The migration Lambda runs as this role and assumes the source's cognito role.
    target.put_role_policy(
        RoleName=LAMBDA_ROLE,
        PolicyName="assume-cognito-migration-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": world.cognito_role_arn,
                    }
                ],
            }
        ),
    )
    source = world.client("source", "iam")
    target_root = {"AWS": f"arn:aws:iam::{world.target_account}:root"}
    source.create_role(
        RoleName="runbook-read-only",
        AssumeRolePolicyDocument=assume_policy(target_root, world.external_id),
        Description="Read-only access for the cutover runbook",
    )
    source.create_role(
        RoleName="cognito-migration-read",
        AssumeRolePolicyDocument=assume_policy({"AWS": lambda_role_arn(world)}, world.external_id),
        Description="AdminInitiateAuth/AdminGetUser on the source pool, for the migration Lambda",
    )
    source.create_role(
        RoleName="s3-replication",
        AssumeRolePolicyDocument=assume_policy({"Service": "s3.amazonaws.com"}),
    )
