"""cognito.migration_trigger and cognito.migration_progress against pools in two moto accounts."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from checks.cognito.migration_progress import Pacer
from checks.cognito.migration_trigger import invoke_allowed
from runbook.aws.session import SessionFactory, build_session
from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.model import Runbook
from tests.helpers import REGION, SOURCE, TARGET, base_runbook, run_check

ACCESS_ROLE = f"arn:aws:iam::{SOURCE}:role/cognito-access-role"
EXTERNAL_ID = "externalcognito"
PASSWORD = "Correct-Horse-9"
# As tests/conftest.py's fake_aws_env: nothing may reach a real account.
AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


def run(ctx: CheckContext, check_id: str, **params: Any) -> CheckResult:
    result: CheckResult = run_check(ctx, check_id, params)
    return result


@dataclass
class World:
    """The playbook's wiring: source pool and admin-auth client, target pool, client, Lambda.

    Built once per module (each user pool costs moto a key pair); a test changes it only
    through the methods below, which undo the change when the test ends.
    """

    source: Any  # unguarded cognito-idp clients, to build and change things
    target: Any
    lam: Any
    source_pool: str
    source_client: str
    target_pool: str
    target_pool_arn: str
    target_client: str
    function_arn: str
    ctx: CheckContext
    undo: list[Callable[[], None]] = field(default_factory=list)

    def set_env(self, variables: dict[str, str]) -> None:
        self._env(variables)
        self.undo.append(lambda: self._env(seed_env(self.source_pool, self.source_client)))

    def _env(self, variables: dict[str, str]) -> None:
        self.lam.update_function_configuration(
            FunctionName=self.function_arn, Environment={"Variables": variables}
        )

    def set_flows(self, side: str, flows: list[str]) -> None:
        client, pool, client_id, original = (
            (self.source, self.source_pool, self.source_client, SOURCE_FLOWS)
            if side == "source"
            else (self.target, self.target_pool, self.target_client, TARGET_FLOWS)
        )

        def apply(wanted: list[str]) -> None:
            client.update_user_pool_client(
                UserPoolId=pool, ClientId=client_id, ExplicitAuthFlows=wanted
            )

        apply(flows)
        self.undo.append(lambda: apply(original))

    def set_trigger(self, function_arn: str | None) -> None:
        def apply(arn: str | None) -> None:
            config = {"UserMigration": arn} if arn else {}
            self.target.update_user_pool(UserPoolId=self.target_pool, LambdaConfig=config)

        apply(function_arn)
        self.undo.append(lambda: apply(self.function_arn))

    def revoke_cognito_invoke(self) -> None:
        self.lam.remove_permission(FunctionName=self.function_arn, StatementId=INVOKE_SID)
        self.undo.append(lambda: allow_cognito(self.lam, self.function_arn, self.target_pool_arn))

    def add_target_user(self, username: str, email: str) -> None:
        add_user(self.target, self.target_pool, username, email)
        self.undo.append(
            lambda: self.target.admin_delete_user(UserPoolId=self.target_pool, Username=username)
        )


SOURCE_FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TARGET_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
INVOKE_SID = "cognito-usermigration"


def seed_env(source_pool: str, source_client: str) -> dict[str, str]:
    """The Lambda environment the seed's tutorial sets."""
    return {
        "OLD_USER_POOL_ID": source_pool,
        "OLD_CLIENT_ID": source_client,
        "OLD_ROLE_ARN": ACCESS_ROLE,
        "OLD_EXTERNAL_ID": EXTERNAL_ID,
        "OLD_USER_POOL_REGION": REGION,
    }


def lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("index.js", "exports.handler = async (event) => event;\n")
    return buf.getvalue()


def allow_cognito(lam: Any, function_arn: str, pool_arn: str) -> None:
    lam.add_permission(
        FunctionName=function_arn,
        StatementId=INVOKE_SID,
        Action="lambda:InvokeFunction",
        Principal="cognito-idp.amazonaws.com",
        SourceArn=pool_arn,
    )


def add_user(client: Any, pool: str, username: str, email: str | None = None) -> None:
    attrs = [{"Name": "email", "Value": email}] if email else []
    client.admin_create_user(
        UserPoolId=pool, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
    )


def enable_totp(client: Any, pool: str, client_id: str, username: str) -> None:
    """A source user with an authenticator app, set up the way a user would."""
    client.admin_set_user_password(
        UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True
    )
    token = client.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    client.associate_software_token(AccessToken=token)
    client.verify_software_token(AccessToken=token, UserCode="123456")
    client.admin_set_user_mfa_preference(
        UserPoolId=pool,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


@pytest.fixture(scope="module")
def module_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """conftest's fake environment and moto, for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        for var in AWS_VARS:
            mp.delenv(var, raising=False)
        empty = tmp_path_factory.mktemp("awsconfig")
        mp.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with mock_aws():
            yield tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def built(module_aws: Path) -> World:
    raw = base_runbook()
    accounts = Runbook.model_validate(raw).accounts
    source = build_session(accounts.source, read_only=False).client("cognito-idp")
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


def trigger(world: World, **params: Any) -> CheckResult:
    params.setdefault("target_client_id", world.target_client)
    return run(world.ctx, "cognito.migration_trigger", **params)


# --- cognito.migration_trigger ---------------------------------------------------------------


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


def test_target_client_without_user_password_auth(world: World) -> None:
    world.set_flows("target", ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    result = trigger(world)
    expect_problems(result, "target_flow")
    assert "never fires for SRP sign-ins" in result.summary


def test_source_client_without_admin_user_password_auth(world: World) -> None:
    world.set_flows("source", ["ALLOW_USER_SRP_AUTH"])
    result = trigger(world)
    expect_problems(result, "source_flow")
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in result.summary


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


def test_lambda_role_outside_the_source_account(world: World) -> None:
    env = seed_env(world.source_pool, world.source_client)
    env["OLD_ROLE_ARN"] = f"arn:aws:iam::{TARGET}:role/cognito-access-role"
    world.set_env(env)
    expect_problems(trigger(world), "role_not_in_source")


def test_lambda_role_not_the_declared_one(world: World) -> None:
    result = trigger(world, source_role_arn=f"arn:aws:iam::{SOURCE}:role/another")
    expect_problems(result, "env_role_arn_mismatch")


def test_external_id_mismatch_is_named_without_showing_it(world: World) -> None:
    result = trigger(world, source_external_id="something-else")
    expect_problems(result, "env_external_id_mismatch")
    assert EXTERNAL_ID not in json.dumps(result.model_dump(mode="json"))


def test_declared_external_id_missing_from_the_lambda(world: World) -> None:
    env = seed_env(world.source_pool, world.source_client)
    del env["OLD_EXTERNAL_ID"]
    world.set_env(env)
    assert trigger(world).status == Status.PASS  # not required unless declared
    expect_problems(trigger(world, source_external_id=EXTERNAL_ID), "env_external_id_missing")


def test_lambda_region_differs_from_the_source_pool(world: World) -> None:
    env = seed_env(world.source_pool, world.source_client)
    env["OLD_USER_POOL_REGION"] = "eu-west-1"
    world.set_env(env)
    expect_problems(trigger(world), "env_region_mismatch")


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

    assert invoke_allowed(policy(None), pool)
    wildcard = f"arn:aws:cognito-idp:{REGION}:{TARGET}:userpool/*"
    assert invoke_allowed(policy({"ArnLike": {"aws:SourceArn": wildcard}}), pool)
    assert invoke_allowed(policy({"ArnLike": {"AWS:SourceArn": ["arn:other", pool]}}), pool)
    assert not invoke_allowed(policy({"ArnEquals": {"AWS:SourceArn": pool + "x"}}), pool)
    assert not invoke_allowed(policy(None, service="events.amazonaws.com"), pool)
    assert not invoke_allowed({}, pool)


def test_trigger_lambda_deleted(world: World) -> None:
    gone = world.function_arn.replace("usermigration", "deleted-function")
    world.set_trigger(gone)
    result = trigger(world, source_client_id=world.source_client)
    expect_problems(result, "lambda_missing")
    assert result.summary == f"the UserMigration Lambda {gone} does not exist"


def test_unknown_target_client(world: World) -> None:
    expect_problems(trigger(world, target_client_id="nosuchclient"), "target_client_missing")


def test_unknown_source_client(world: World) -> None:
    result = trigger(world, source_client_id="nosuchclient")
    expect_problems(result, "env_client_id_mismatch", "source_client_missing")


def test_unknown_target_pool(world: World) -> None:
    result = trigger(world, target_user_pool_id="us-east-1_Nope")
    expect_problems(result, "target_pool_missing")
    assert result.summary == "target user pool us-east-1_Nope not found"


def test_trigger_without_client_id_is_an_error(world: World) -> None:
    result = run(world.ctx, "cognito.migration_trigger")
    assert result.status == Status.ERROR
    assert result.summary == "not configured: target_client_id"


# --- cognito.migration_progress --------------------------------------------------------------


def progress(world: World, **params: Any) -> CheckResult:
    params.setdefault("requests_per_second", 50)
    return run(world.ctx, "cognito.migration_progress", **params)


def test_progress_warns_below_the_threshold(world: World) -> None:
    result = progress(world, match_email=False)
    assert result.status == Status.WARN, result
    assert result.summary == "57% migrated (4/7); 2 TOTP users will need to re-register"
    ev = result.evidence
    assert (ev["source_users"], ev["target_users"], ev["migrated"], ev["not_migrated"]) == (
        7,
        4,
        4,
        3,
    )
    assert ev["totp_users_not_migrated"] == 2 and ev["mfa_checked"] == 3


def test_progress_passes_at_or_above_the_threshold(world: World) -> None:
    result = progress(world, min_migrated_percent=50)
    assert result.status == Status.PASS, result
    assert result.summary.startswith("57% migrated (4/7)")


def test_progress_matches_email_case_insensitively(world: World) -> None:
    # A pool with generated usernames: same person, new username, email in other case.
    world.add_target_user("9f1c-generated", "user6@EXAMPLE.com")
    assert progress(world, match_email=False).evidence["migrated"] == 4
    result = progress(world, match_email=True)
    assert result.evidence["migrated"] == 5 and result.evidence["matched_by_email"] == 1
    assert result.summary == "71% migrated (5/7); 2 TOTP users will need to re-register"
    # Default: the runbook's cognito.case_insensitive_emails (true).
    assert progress(world).evidence["migrated"] == 5


def test_progress_caps_mfa_lookups(world: World) -> None:
    result = progress(world, max_mfa_lookups=1, match_email=False)
    assert result.evidence["mfa_checked"] == 1
    assert any("TOTP count is a floor" in line for line in result.details)
    assert progress(world, mfa_time_budget_s=0).evidence["mfa_checked"] == 0
    skipped = progress(world, check_totp=False)
    assert "TOTP" not in skipped.summary and "mfa_checked" not in skipped.evidence


def test_progress_lists_in_pages_of_sixty(world: World) -> None:
    source_pool = world.source.create_user_pool(PoolName="bulk")["UserPool"]["Id"]
    target_pool = world.target.create_user_pool(PoolName="bulk")["UserPool"]["Id"]
    for i in range(130):
        add_user(world.source, source_pool, f"bulk{i:03d}")
    for i in range(125):
        add_user(world.target, target_pool, f"bulk{i:03d}")
    limits: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        limits.append(params.get("Limit", 0))

    # The check's own (guarded) source client, as the factory caches it.
    events = world.ctx.client("source", "cognito-idp").meta.events
    events.register("provide-client-params.cognito-idp.ListUsers", record, unique_id="t")
    try:
        result = progress(
            world,
            source_user_pool_id=source_pool,
            target_user_pool_id=target_pool,
            min_migrated_percent=95,
        )
    finally:
        events.unregister("provide-client-params.cognito-idp.ListUsers", unique_id="t")
    assert result.status == Status.PASS, result
    assert result.summary == "96% migrated (125/130); 0 TOTP users will need to re-register"
    assert limits == [60, 60, 60]


def test_progress_with_an_empty_source_pool(world: World) -> None:
    empty = world.source.create_user_pool(PoolName="empty")["UserPool"]["Id"]
    result = progress(world, source_user_pool_id=empty)
    assert result.status == Status.PASS
    assert result.summary == "the source pool has no users"


def test_progress_unknown_pool_fails(world: World) -> None:
    result = progress(world, source_user_pool_id="us-east-1_Nope")
    assert result.status == Status.FAIL
    assert result.summary == "source user pool us-east-1_Nope not found"
    result = progress(world, target_user_pool_id="us-east-1_Nope")
    assert result.status == Status.FAIL
    assert result.summary == "target user pool us-east-1_Nope not found"


def test_progress_without_pools_is_an_error(tmp_path: Path) -> None:
    model = Runbook.model_validate(base_runbook())
    ctx = CheckContext(runbook=model, sessions=SessionFactory(model.accounts), state_dir=tmp_path)
    result = run(ctx, "cognito.migration_progress")
    assert result.status == Status.ERROR
    assert result.summary == "no user pools configured"


def test_pacer_spaces_calls_without_delaying_the_first() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    pacer.wait()
    pacer.wait()
    now[0] += 1.0  # work that took longer than the interval: no wait
    pacer.wait()
    pacer.wait()
    assert slept == [0.25, 0.25]
