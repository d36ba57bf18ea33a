"""Fixtures of the Cognito checks: one world per test module, changes undone after each test.

Built once per module (each user pool costs moto a key pair).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from runbook.aws.session import SessionFactory, build_session
from runbook.checkapi import CheckContext
from runbook.model import Runbook
from tests.support.aws import fake_aws_environment
from tests.support.cognitoworld import (
    SOURCE_FLOWS,
    TARGET_FLOWS,
    World,
    add_user,
    allow_cognito,
    enable_totp,
    lambda_zip,
    seed_env,
)
from tests.support.runbooks import base_runbook
from tests.support.trigger_world import answer_simulation, seed_trigger_iam


@pytest.fixture(scope="module")
def module_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """conftest's fake environment and moto, for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        fake_aws_environment(mp, tmp_path_factory)
        with mock_aws():
            yield tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def built(module_aws: Path) -> World:
    raw = base_runbook()
    accounts = Runbook.model_validate(raw).accounts
    source_session = build_session(accounts.source, read_only=False)
    source = source_session.client("cognito-idp")
    source_pool = source.create_user_pool(PoolName="prod-users")["UserPool"]["Id"]
    source_client = source.create_user_pool_client(
        UserPoolId=source_pool, ClientName="migration", ExplicitAuthFlows=SOURCE_FLOWS
    )["UserPoolClient"]["ClientId"]

    target_session = build_session(accounts.target, read_only=False)
    role = target_session.client("iam").create_role(
        RoleName="usermigration-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    seed_trigger_iam(target_session.client("iam"), source_session.client("iam"), role)
    lam = target_session.client("lambda")
    function_arn = lam.create_function(
        FunctionName="usermigration",
        Runtime="nodejs18.x",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": lambda_zip()},
        Timeout=5,
        Environment={"Variables": seed_env(source_pool, source_client)},
    )["FunctionArn"]
    target = target_session.client("cognito-idp")
    pool = target.create_user_pool(PoolName="desapp", LambdaConfig={"UserMigration": function_arn})[
        "UserPool"
    ]
    allow_cognito(lam, function_arn, pool["Arn"])
    target_client = target.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="desapp", ExplicitAuthFlows=TARGET_FLOWS
    )["UserPoolClient"]["ClientId"]

    # Progress: 7 source users, 4 already moved; TOTP for one moved and two not yet moved.
    for i in range(7):
        add_user(source, source_pool, f"user{i}", f"User{i}@Example.com")
    for i in range(4):
        add_user(target, pool["Id"], f"user{i}", f"user{i}@example.com")
    for name in ("user0", "user4", "user5"):
        enable_totp(source, source_pool, source_client, name)

    raw["cognito"] = {"source_user_pool_id": source_pool, "target_user_pool_id": pool["Id"]}
    model = Runbook.model_validate(raw)
    ctx = CheckContext(runbook=model, sessions=SessionFactory(model.accounts), state_dir=module_aws)
    answer_simulation(ctx)  # moto has no iam:SimulatePrincipalPolicy
    return World(
        source=source,
        target=target,
        lam=lam,
        source_pool=source_pool,
        source_client=source_client,
        target_pool=pool["Id"],
        target_pool_arn=pool["Arn"],
        target_client=target_client,
        function_arn=function_arn,
        ctx=ctx,
    )


@pytest.fixture
def world(built: World) -> Iterator[World]:
    yield built
    while built.undo:
        built.undo.pop()()
