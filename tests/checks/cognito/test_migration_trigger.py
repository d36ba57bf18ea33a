"""cognito.migration_trigger against pools, a client and a Lambda in two moto accounts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from checks.cognito.trigger_wiring import invoke_verdict
from runbook.checkapi import CheckResult, Status
from tests.support.checks import run_check
from tests.support.cognitoworld import (
    ACCESS_ROLE,
    EXTERNAL_ID,
    INVOKE_SID,
    World,
    allow_cognito,
    seed_env,
)
from tests.support.runbooks import REGION, SOURCE, TARGET


def trigger(world: World, **params: Any) -> CheckResult:
    params.setdefault("target_client_id", world.target_client)
    return run_check(world.ctx, "cognito.migration_trigger", params)


def test_trigger_passes_when_wired_as_in_the_playbook(world: World) -> None:
    result = trigger(
        world,
        source_client_id=world.source_client,
        source_role_arn=ACCESS_ROLE,
        source_external_id=EXTERNAL_ID,
    )
    assert result.status == Status.PASS, result
    assert (
        result.summary == f"UserMigration trigger usermigration migrates from {world.source_pool}"
    )
    assert result.evidence["problems"] == []
    assert result.evidence["source_auth_flows"] == [
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    # The external ID is checked but never copied into evidence (it lands in the audit log).
    assert EXTERNAL_ID not in json.dumps(result.model_dump(mode="json"))


def test_trigger_takes_the_source_client_from_the_lambda_when_not_given(world: World) -> None:
    result = trigger(world)
    assert result.status == Status.PASS, result
    assert result.evidence["source_client_id"] == world.source_client


def test_trigger_accepts_source_prefixed_variable_names(world: World) -> None:
    world.set_env(
        {
            "SOURCE_USER_POOL_ID": world.source_pool,
            "SOURCE_CLIENT_ID": world.source_client,
            "SOURCE_ROLE_ARN": ACCESS_ROLE,
            "SOURCE_EXTERNAL_ID": EXTERNAL_ID,
        }
    )
    result = trigger(world, source_external_id=EXTERNAL_ID)
    assert result.status == Status.PASS, result
    assert result.evidence["lambda_env"]["user_pool_id"]["variable"] == "SOURCE_USER_POOL_ID"


def test_trigger_accepts_the_legacy_flow_names(world: World) -> None:
    world.set_flows("target", ["USER_PASSWORD_AUTH"])
    world.set_flows("source", ["ADMIN_NO_SRP_AUTH"])
    assert trigger(world).status == Status.PASS


def expect_problems(result: CheckResult, *names: str) -> None:
    assert result.status == Status.FAIL, result
    assert result.evidence["problems"] == list(names), result


def test_no_user_migration_trigger(world: World) -> None:
    world.set_trigger(None)
    result = trigger(world)
    expect_problems(result, "no_trigger")
    assert result.summary == f"target pool {world.target_pool} has no UserMigration trigger"


@pytest.mark.parametrize(
    ("side", "flows", "problem", "named"),
    [
        pytest.param(
            "target",
            ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "target_flow",
            "never fires for SRP sign-ins",
            id="target-client-without-user-password-auth",
        ),
        pytest.param(
            "source",
            ["ALLOW_USER_SRP_AUTH"],
            "source_flow",
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            id="source-client-without-admin-user-password-auth",
        ),
    ],
)
def test_client_without_the_needed_auth_flow(
    world: World, side: str, flows: list[str], problem: str, named: str
) -> None:
    world.set_flows(side, flows)
    result = trigger(world)
    expect_problems(result, problem)
    assert named in result.summary


def test_lambda_names_another_source_pool(world: World) -> None:
    world.set_env({**seed_env("us-east-1_SomeOtherPool", world.source_client)})
    result = trigger(world)
    expect_problems(result, "env_user_pool_id_mismatch")
    assert result.summary == (
        "the Lambda's OLD_USER_POOL_ID is 'us-east-1_SomeOtherPool', "
        f"expected '{world.source_pool}'"
    )


def test_lambda_names_another_source_client(world: World) -> None:
    world.set_env(seed_env(world.source_pool, "someotherclient"))
    result = trigger(world, source_client_id=world.source_client)
    expect_problems(result, "env_client_id_mismatch")


def test_lambda_environment_missing_client_and_role(world: World) -> None:
    world.set_env({"OLD_USER_POOL_ID": world.source_pool})
    result = trigger(world)
    expect_problems(result, "env_client_id_missing", "env_role_arn_missing")
    assert result.summary == "2 problems: env_client_id_missing, env_role_arn_missing"
    assert "source app client unknown: its auth flows were not checked" in result.details


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        pytest.param(
            "OLD_ROLE_ARN",
            f"arn:aws:iam::{TARGET}:role/cognito-access-role",
            "role_not_in_source",
            id="role-outside-the-source-account",
        ),
        pytest.param(
            "OLD_USER_POOL_REGION",
            "eu-west-1",
            "env_region_mismatch",
            id="region-differs-from-the-source-pool",
        ),
    ],
)
def test_lambda_environment_variable_wrong(
    world: World, variable: str, value: str, problem: str
) -> None:
    env = seed_env(world.source_pool, world.source_client)
    env[variable] = value
    world.set_env(env)
    expect_problems(trigger(world), problem)


@pytest.mark.parametrize(
    ("params", "problems"),
    [
        pytest.param(
            {"source_role_arn": f"arn:aws:iam::{SOURCE}:role/another"},
            ["env_role_arn_mismatch"],
            id="lambda-role-not-the-declared-one",
        ),
        pytest.param(
            {"target_client_id": "nosuchclient"},
            ["target_client_missing"],
            id="unknown-target-client",
        ),
        pytest.param(
            {"source_client_id": "nosuchclient"},
            ["env_client_id_mismatch", "source_client_missing"],
            id="unknown-source-client",
        ),
    ],
)
def test_declared_parameter_not_matched(
    world: World, params: dict[str, Any], problems: list[str]
) -> None:
    expect_problems(trigger(world, **params), *problems)


def test_external_id_mismatch_is_named_without_showing_it(world: World) -> None:
    result = trigger(world, source_external_id="something-else")
    expect_problems(result, "env_external_id_mismatch")
    assert EXTERNAL_ID not in json.dumps(result.model_dump(mode="json"))


def test_declared_external_id_missing_from_the_lambda(world: World) -> None:
    env = seed_env(world.source_pool, world.source_client)
    del env["OLD_EXTERNAL_ID"]
    world.set_env(env)
    # Not required by the check's params unless declared, but the source role's trust is.
    expect_problems(trigger(world), "source_role_trust")
    expect_problems(
        trigger(world, source_external_id=EXTERNAL_ID),
        "env_external_id_missing",
        "source_role_trust",
    )


def test_cognito_may_not_invoke_the_lambda(world: World) -> None:
    world.revoke_cognito_invoke()
    result = trigger(world)
    expect_problems(result, "lambda_not_invokable")
    assert "cognito-idp.amazonaws.com" in result.summary


def test_invoke_permission_for_another_pool_does_not_count(world: World) -> None:
    world.revoke_cognito_invoke()
    allow_cognito(world.lam, world.function_arn, world.target_pool_arn + "X")
    world.undo.append(
        lambda: world.lam.remove_permission(FunctionName=world.function_arn, StatementId=INVOKE_SID)
    )
    expect_problems(trigger(world), "lambda_not_invokable")


def test_invoke_policy_conditions() -> None:
    pool = f"arn:aws:cognito-idp:{REGION}:{TARGET}:userpool/{REGION}_Abc"

    def policy(condition: dict[str, Any] | None, service: str = "cognito-idp.amazonaws.com") -> Any:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "lambda:InvokeFunction",
        }
        if condition is not None:
            statement["Condition"] = condition
        return {"Statement": [statement]}

    def outcome(document: Any) -> str:
        return invoke_verdict(document, pool).outcome

    assert outcome(policy(None)) == "warn"  # any pool may invoke it: the confused deputy
    wildcard = f"arn:aws:cognito-idp:{REGION}:{TARGET}:userpool/*"
    assert outcome(policy({"ArnLike": {"aws:SourceArn": wildcard}})) == "ok"
    assert outcome(policy({"ArnLike": {"AWS:SourceArn": ["arn:other", pool]}})) == "ok"
    assert outcome(policy({"ArnEquals": {"AWS:SourceArn": pool + "x"}})) == "fail"
    assert outcome(policy({"StringEquals": {"AWS:SourceAccount": TARGET}})) == "warn"
    assert outcome(policy({"StringEquals": {"AWS:SourceAccount": SOURCE}})) == "fail"
    assert outcome(policy({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})) == "warn"
    assert outcome(policy(None, service="events.amazonaws.com")) == "fail"
    assert outcome({}) == "fail"
    deny = {"Effect": "Deny", "Principal": {"Service": "cognito-idp.amazonaws.com"}}
    scoped = policy({"ArnLike": {"AWS:SourceArn": pool}})
    scoped["Statement"].append({**deny, "Action": "lambda:*"})
    assert outcome(scoped) == "fail"  # an explicit Deny wins


def test_trigger_lambda_deleted(world: World) -> None:
    gone = world.function_arn.replace("usermigration", "deleted-function")
    world.set_trigger(gone)
    result = trigger(world, source_client_id=world.source_client)
    expect_problems(result, "lambda_missing")
    assert result.summary == f"the UserMigration Lambda {gone} does not exist"


def test_unknown_target_pool(world: World) -> None:
    result = trigger(world, target_user_pool_id="us-east-1_Nope")
    expect_problems(result, "target_pool_missing")
    assert result.summary == "target user pool us-east-1_Nope not found"


def test_trigger_without_client_id_is_an_error(world: World) -> None:
    result = run_check(world.ctx, "cognito.migration_trigger")
    assert result.status == Status.ERROR
    assert result.summary == "not configured: target_client_id"


def test_a_source_client_secret_is_noticed_but_never_kept(world: World) -> None:
    """DescribeUserPoolClient hands out the secret: only the fact of one may be kept."""
    made = world.source.create_user_pool_client(
        UserPoolId=world.source_pool,
        ClientName="with-secret",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    secret = made["ClientSecret"]
    try:
        result = trigger(world, source_client_id=made["ClientId"])
        assert result.evidence.get("source_client_has_secret") is True
        assert secret not in json.dumps(result.model_dump(mode="json"))
    finally:
        world.source.delete_user_pool_client(
            UserPoolId=world.source_pool, ClientId=made["ClientId"]
        )
