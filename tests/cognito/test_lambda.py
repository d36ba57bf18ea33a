"""The UserMigration Lambda against pools in two moto accounts.

moto never invokes Lambda triggers, so each test calls `handler(event, None)`
with a real-shaped event while moto is active; where Cognito would then create
the user, the test does it from the handler's answer. moto issues SMS_MFA,
SOFTWARE_TOKEN_MFA and NEW_PASSWORD_REQUIRED challenges itself; EMAIL_OTP it
does not, so that one answer comes from a `before-send` hook.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from runbook.aws.session import build_session
from runbook.cognito.trigger import handler as migration_lambda
from runbook.cognito.trigger.handler import (
    BAD_CREDENTIALS,
    UNAVAILABLE,
    LambdaConfig,
    MigrationRefused,
    build_zip,
    handler,
)
from runbook.model import Runbook
from tests.helpers import REGION, SOURCE, base_runbook

CANARY = "Canary-Pa55word!x7Q"  # must never appear in any log
ACCESS_ROLE = f"arn:aws:iam::{SOURCE}:role/cognito-access-role"
EXTERNAL_ID = "externalcognito"
SOURCE_FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


@dataclass
class World:
    """The two pools, built once per module; each test's users carry its own prefix."""

    source: Any  # unguarded clients, to build things and look at them
    target: Any
    source_pool: str
    source_client: str
    target_pool: str
    prefix: str = ""

    def u(self, name: str) -> str:
        return f"{self.prefix}{name}"


def attrs(**values: str) -> list[dict[str, str]]:
    return [{"Name": k.replace("__", ":"), "Value": v} for k, v in values.items()]


def as_dict(attributes: list[dict[str, str]]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in attributes}


def add_confirmed(world: World, name: str, **values: str) -> None:
    username = world.u(name)
    world.source.admin_create_user(
        UserPoolId=world.source_pool,
        Username=username,
        UserAttributes=attrs(**values),
        MessageAction="SUPPRESS",
    )
    world.source.admin_set_user_password(
        UserPoolId=world.source_pool, Username=username, Password=CANARY, Permanent=True
    )


def sign_in(world: World, name: str) -> dict[str, Any]:
    result: dict[str, Any] = world.source.admin_initiate_auth(
        UserPoolId=world.source_pool,
        ClientId=world.source_client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": world.u(name), "PASSWORD": CANARY},
    )
    return result


@pytest.fixture(autouse=True)
def fresh_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A new execution environment per test, and a budget that does not depend on how
    busy the test machine is (test_answers_within_cognitos_time_or_refuses uses the real one)."""
    monkeypatch.setattr(migration_lambda, "COGNITO_TIMEOUT_S", 60.0)
    migration_lambda.reset_cache()
    yield
    migration_lambda.reset_cache()


AWS_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN")


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """moto for the whole module (a reset per test costs more than the tests)."""
    with pytest.MonkeyPatch.context() as mp:
        for var in AWS_VARS:
            mp.delenv(var, raising=False)
        empty = tmp_path_factory.mktemp("awsconfig")
        mp.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            yield build_world()


def build_world() -> World:
    accounts = Runbook.model_validate(base_runbook()).accounts
    source_session = build_session(accounts.source, read_only=False)
    source = source_session.client("cognito-idp")
    source_pool = source.create_user_pool(
        PoolName="prod-users",
        Schema=[
            {"Name": "tier", "AttributeDataType": "String", "Mutable": True},
            {"Name": "legacy", "AttributeDataType": "String", "Mutable": True},
        ],
        MfaConfiguration="OPTIONAL",
    )["UserPool"]["Id"]
    source_client = source.create_user_pool_client(
        UserPoolId=source_pool, ClientName="migration", ExplicitAuthFlows=SOURCE_FLOWS
    )["UserPoolClient"]["ClientId"]
    source.create_group(UserPoolId=source_pool, GroupName="admins")
    source.create_group(UserPoolId=source_pool, GroupName="staff")

    target = build_session(accounts.target, read_only=False).client("cognito-idp")
    # The target has no custom:legacy: the Lambda must not send it.
    target_pool = target.create_user_pool(
        PoolName="new-users",
        Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    target.create_group(UserPoolId=target_pool, GroupName="admins")
    target.create_group(UserPoolId=target_pool, GroupName="staff")

    source_session.client("iam").create_role(
        RoleName="cognito-access-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
                    }
                ],
            }
        ),
    )
    return World(source, target, source_pool, source_client, target_pool)


@pytest.fixture
def world(pools: World, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> World:
    """The Lambda's environment as deployed, and a username prefix of this test's own."""
    for name, value in {
        "OLD_USER_POOL_ID": pools.source_pool,
        "OLD_CLIENT_ID": pools.source_client,
        "OLD_ROLE_ARN": ACCESS_ROLE,
        "OLD_EXTERNAL_ID": EXTERNAL_ID,
        "OLD_USER_POOL_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MFA_POLICY", "OLD_CLIENT_SECRET", "GROUP_COPY_WINDOW_S"):
        monkeypatch.delenv(name, raising=False)
    prefix = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8] + "-"
    return replace(pools, prefix=prefix)


def migration_event(
    world: World, name: str, password: str | None = CANARY, *, forgot: bool = False
) -> dict[str, Any]:
    """What Cognito sends the Migrate user trigger."""
    request: dict[str, Any] = {"validationData": None, "clientMetadata": None}
    if not forgot:
        request["password"] = password
    return {
        "version": "1",
        "triggerSource": "UserMigration_ForgotPassword"
        if forgot
        else "UserMigration_Authentication",
        "region": REGION,
        "userPoolId": world.target_pool,
        "userName": world.u(name),
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "targetclient"},
        "request": request,
        "response": {
            "userAttributes": None,
            "forceAliasCreation": None,
            "enableSMSMFA": None,
            "finalUserStatus": None,
            "messageAction": None,
            "desiredDeliveryMediums": None,
        },
    }


def post_auth_event(world: World, name: str) -> dict[str, Any]:
    return {
        "version": "1",
        "triggerSource": "PostAuthentication_Authentication",
        "region": REGION,
        "userPoolId": world.target_pool,
        "userName": world.u(name),
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "targetclient"},
        "request": {"userAttributes": {}, "newDeviceUsed": False},
        "response": {},
    }


def create_as_cognito_would(world: World, event: dict[str, Any]) -> None:
    """moto never calls the trigger; do what Cognito does with its answer."""
    response = event["response"]
    world.target.admin_create_user(
        UserPoolId=world.target_pool,
        Username=event["userName"],
        UserAttributes=[{"Name": k, "Value": v} for k, v in response["userAttributes"].items()],
        MessageAction=response["messageAction"],
    )


# --- sign-in ------------------------------------------------------------------------


def test_right_password_migrates_with_custom_attributes_and_flags_as_they_were(
    world: World,
) -> None:
    add_confirmed(
        world,
        "alice",
        email="alice@example.com",
        email_verified="true",
        phone_number="+15550100001",
        phone_number_verified="false",
        custom__tier="gold",
        custom__legacy="old",
    )
    add_confirmed(world, "bob", email="bob@example.com", email_verified="false")

    alice = handler(migration_event(world, "alice"), None)["response"]
    assert alice["finalUserStatus"] == "CONFIRMED"
    assert alice["messageAction"] == "SUPPRESS"
    assert alice["userAttributes"] == {
        "email": "alice@example.com",
        "email_verified": "true",
        "phone_number": "+15550100001",
        "phone_number_verified": "false",
        "custom:tier": "gold",
    }  # no sub, no custom:legacy (not in the target's schema)
    assert not alice.get("enableSMSMFA")

    bob = handler(migration_event(world, "bob"), None)["response"]
    assert bob["finalUserStatus"] == "CONFIRMED"
    assert bob["userAttributes"]["email_verified"] == "false"  # never forced to true


def test_email_verified_is_not_added_when_the_source_never_had_it(world: World) -> None:
    add_confirmed(world, "carl", email="carl@example.com")
    response = handler(migration_event(world, "carl"), None)["response"]
    assert response["userAttributes"] == {"email": "carl@example.com"}


@pytest.mark.parametrize("username,password", [("alice", "Wrong-Pa55word!"), ("nobody", CANARY)])
def test_wrong_password_or_unknown_user_is_refused(
    world: World, username: str, password: str
) -> None:
    add_confirmed(world, "alice", email="alice@example.com")
    event = migration_event(world, username, password)
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(event, None)
    assert event["response"]["userAttributes"] is None


def test_disabled_source_user_is_refused(world: World) -> None:
    add_confirmed(world, "frank", email="frank@example.com")
    world.source.admin_disable_user(UserPoolId=world.source_pool, Username=world.u("frank"))
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(migration_event(world, "frank"), None)


def test_force_change_password_user_migrates_with_reset_required(world: World) -> None:
    world.source.admin_create_user(
        UserPoolId=world.source_pool,
        Username=world.u("dora"),
        TemporaryPassword=CANARY,
        UserAttributes=attrs(email="dora@example.com", email_verified="true"),
        MessageAction="SUPPRESS",
    )
    assert sign_in(world, "dora")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"  # moto, as AWS
    response = handler(migration_event(world, "dora"), None)["response"]
    assert response["finalUserStatus"] == "RESET_REQUIRED"
    assert response["userAttributes"]["email"] == "dora@example.com"


def enable_totp(world: World, name: str) -> None:
    token = sign_in(world, name)["AuthenticationResult"]["AccessToken"]
    world.source.associate_software_token(AccessToken=token)
    world.source.verify_software_token(AccessToken=token, UserCode="123456")
    world.source.admin_set_user_mfa_preference(
        UserPoolId=world.source_pool,
        Username=world.u(name),
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


def test_totp_user_is_refused_or_accepted_on_the_password_by_policy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "tina", email="tina@example.com", email_verified="true")
    enable_totp(world, "tina")
    assert sign_in(world, "tina")["ChallengeName"] == "SOFTWARE_TOKEN_MFA"

    event = migration_event(world, "tina")
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(event, None)  # default policy: refuse; the user is force-migrated later
    assert event["response"]["userAttributes"] is None

    monkeypatch.setenv("MFA_POLICY", "accept_password")
    response = handler(migration_event(world, "tina"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert not response.get("enableSMSMFA")  # a TOTP secret cannot move
    # A wrong password is still refused: the challenge only follows a right one.
    with pytest.raises(MigrationRefused):
        handler(migration_event(world, "tina", "Wrong-Pa55word!"), None)


def test_sms_mfa_user_keeps_sms_mfa_when_accepted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(
        world, "sam", phone_number="+15550100002", phone_number_verified="true", email="s@e.com"
    )
    world.source.admin_set_user_mfa_preference(
        UserPoolId=world.source_pool,
        Username=world.u("sam"),
        SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    assert sign_in(world, "sam")["ChallengeName"] == "SMS_MFA"
    with pytest.raises(MigrationRefused):
        handler(migration_event(world, "sam"), None)
    monkeypatch.setenv("MFA_POLICY", "accept_password")
    response = handler(migration_event(world, "sam"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert response["enableSMSMFA"] is True


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def email_otp_challenge(**_kwargs: Any) -> AWSResponse:
    body = json.dumps(
        {"ChallengeName": "EMAIL_OTP", "Session": "opaque", "ChallengeParameters": {}}
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse("https://cognito-idp.us-east-1.amazonaws.com/", 200, headers, _Raw(body))


def test_email_otp_challenge_follows_the_policy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "eve", email="eve@example.com", email_verified="true")
    # moto has no EMAIL_OTP: the Lambda's own (cached) source client gets that answer.
    source = migration_lambda._client("source", LambdaConfig.from_env(os.environ))
    source.meta.events.register(
        "before-send.cognito-idp.AdminInitiateAuth", email_otp_challenge, unique_id="email-otp"
    )
    with pytest.raises(MigrationRefused):
        handler(migration_event(world, "eve"), None)
    monkeypatch.setenv("MFA_POLICY", "accept_password")
    response = handler(migration_event(world, "eve"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert response["userAttributes"]["email"] == "eve@example.com"


def password_reset_required(**_kwargs: Any) -> AWSResponse:
    body = json.dumps(
        {"__type": "PasswordResetRequiredException", "message": "Password reset required."}
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse("https://cognito-idp.us-east-1.amazonaws.com/", 400, headers, _Raw(body))


def test_source_user_with_reset_required_migrates_with_reset_required(world: World) -> None:
    """Cognito raises PasswordResetRequiredException here; moto answers with a challenge."""
    add_confirmed(world, "rita", email="rita@example.com", email_verified="true")
    source = migration_lambda._client("source", LambdaConfig.from_env(os.environ))
    source.meta.events.register(
        "before-send.cognito-idp.AdminInitiateAuth", password_reset_required, unique_id="reset"
    )
    response = handler(migration_event(world, "rita", "Any-Pa55word!"), None)["response"]
    assert response["finalUserStatus"] == "RESET_REQUIRED"
    assert response["userAttributes"]["email_verified"] == "true"


def test_unknown_challenge_is_not_success() -> None:
    assert not migration_lambda.decide(
        {"ChallengeName": "CUSTOM_CHALLENGE"}, "accept_password"
    ).migrate
    assert not migration_lambda.decide({}, "accept_password").migrate
    assert migration_lambda.decide({"AuthenticationResult": {"AccessToken": "x"}}, "refuse").migrate


# --- forgot password and groups -----------------------------------------------------


def test_forgot_password_migrates_attributes_of_a_source_user(world: World) -> None:
    add_confirmed(world, "alice", email="alice@example.com", email_verified="true")
    event = handler(migration_event(world, "alice", forgot=True), None)
    response = event["response"]
    assert response["userAttributes"] == {"email": "alice@example.com", "email_verified": "true"}
    assert response["messageAction"] == "SUPPRESS"
    assert response["finalUserStatus"] is None  # Cognito makes it RESET_REQUIRED itself
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(migration_event(world, "nobody", forgot=True), None)


def test_groups_are_copied_at_the_first_sign_in_after_migration(world: World) -> None:
    add_confirmed(world, "alice", email="alice@example.com", custom__tier="gold")
    for group in ("admins", "staff"):
        world.source.admin_add_user_to_group(
            UserPoolId=world.source_pool, Username=world.u("alice"), GroupName=group
        )
    event = handler(migration_event(world, "alice"), None)
    create_as_cognito_would(world, event)
    handler(post_auth_event(world, "alice"), None)
    groups = world.target.admin_list_groups_for_user(
        UserPoolId=world.target_pool, Username=world.u("alice")
    )
    assert sorted(g["GroupName"] for g in groups["Groups"]) == ["admins", "staff"]
    user = world.target.admin_get_user(UserPoolId=world.target_pool, Username=world.u("alice"))
    assert as_dict(user["UserAttributes"])["custom:tier"] == "gold"


def test_group_copy_leaves_established_users_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "alice", email="alice@example.com")
    world.source.admin_add_user_to_group(
        UserPoolId=world.source_pool, Username=world.u("alice"), GroupName="admins"
    )
    create_as_cognito_would(world, handler(migration_event(world, "alice"), None))
    # An administrator's later removal is not undone once the window has passed.
    monkeypatch.setenv("GROUP_COPY_WINDOW_S", "0")
    handler(post_auth_event(world, "alice"), None)
    groups = world.target.admin_list_groups_for_user(
        UserPoolId=world.target_pool, Username=world.u("alice")
    )
    assert groups["Groups"] == []
    # A user only in the target (never in the source) signs in: nothing breaks.
    world.target.admin_create_user(
        UserPoolId=world.target_pool, Username=world.u("native"), MessageAction="SUPPRESS"
    )
    monkeypatch.setenv("GROUP_COPY_WINDOW_S", "3600")
    assert handler(post_auth_event(world, "native"), None)["userName"] == world.u("native")


# --- credentials, time, configuration ---------------------------------------------------


def test_assumed_role_credentials_are_reused_until_near_expiry(world: World) -> None:
    add_confirmed(world, "alice", email="alice@example.com")
    handler(migration_event(world, "alice"), None)
    ((key, (first, expires)),) = [
        (k, v) for k, v in migration_lambda._clients.items() if k[0] == "source"
    ]
    assert expires > datetime.now(UTC).timestamp() + 1800  # an hour's credentials
    handler(migration_event(world, "alice"), None)
    assert migration_lambda._clients[key][0] is first  # no second AssumeRole
    near = (datetime.now(UTC) + timedelta(minutes=4)).timestamp()
    migration_lambda._clients[key] = (first, near)
    handler(migration_event(world, "alice"), None)
    assert migration_lambda._clients[key][0] is not first  # refreshed 5 minutes early


def test_answers_within_cognitos_time_or_refuses(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "alice", email="alice@example.com")

    class Context:
        remaining_ms = 60_000

        def get_remaining_time_in_millis(self) -> int:
            return self.remaining_ms

    # A budget wall time cannot exhaust on a loaded machine: no timing is asserted.
    monkeypatch.setattr(migration_lambda, "COGNITO_TIMEOUT_S", 60.0)
    config = migration_lambda._CLIENT_CONFIG
    # Every call can time out before Cognito's 5 s are up, and is never retried.
    assert config.connect_timeout + config.read_timeout <= migration_lambda.MIN_CALL_BUDGET_S
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    context = Context()
    assert handler(migration_event(world, "alice"), context)["response"]["userAttributes"]
    context.remaining_ms = 2000  # the function's own timeout is nearer than Cognito's
    migration_lambda.reset_cache()
    with pytest.raises(MigrationRefused, match="temporarily unavailable"):
        handler(migration_event(world, "alice"), context)
    assert not migration_lambda._clients  # gave up before sending anything


def test_missing_configuration_refuses_sign_in_but_never_blocks_post_auth(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLD_CLIENT_ID")
    with pytest.raises(MigrationRefused, match=UNAVAILABLE.split(";")[0]):
        handler(migration_event(world, "alice"), None)
    assert handler(post_auth_event(world, "alice"), None)["userName"] == world.u("alice")


def test_secret_hash_matches_cognitos_definition() -> None:
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"s3cr3t", b"alice" + b"client1", hashlib.sha256).digest()
    ).decode()
    assert migration_lambda.secret_hash("alice", "client1", "s3cr3t") == expected


# --- no secrets in logs ---------------------------------------------------------------


def test_canary_password_never_appears_in_any_log(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: botocore would log request bodies
    logging.getLogger("moto").setLevel(logging.WARNING)  # the emulator is not shipped
    add_confirmed(world, "alice", email="alice@example.com", email_verified="true")
    add_confirmed(world, "tina", email="tina@example.com")
    enable_totp(world, "tina")
    caplog.clear()
    capsys.readouterr()

    handler(migration_event(world, "alice"), None)
    for username, password in (("alice", CANARY + "x"), ("nobody", CANARY), ("tina", CANARY)):
        with pytest.raises(MigrationRefused):
            handler(migration_event(world, username, password), None)
    monkeypatch.setenv("MFA_POLICY", "accept_password")
    handler(migration_event(world, "tina"), None)
    monkeypatch.setenv("OLD_CLIENT_SECRET", "not-the-canary")
    handler(migration_event(world, "alice"), None)

    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "migrated" in caplog.text  # it does log: the outcome, not the secret
    assert CANARY not in logged
    assert "AccessToken" not in logged and "eyJ" not in logged  # no tokens (JWTs)


# --- packaging ---------------------------------------------------------------------------


ALLOWED_IMPORTS = {"boto3", "botocore"} | set(sys.stdlib_module_names)


def test_zip_is_the_handler_module_with_stdlib_and_boto3_only(tmp_path: Path) -> None:
    path = build_zip(tmp_path)
    assert path == tmp_path / "cognito-user-migration.zip"
    assert build_zip(tmp_path / "again.zip").read_bytes() == path.read_bytes()  # reproducible
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["lambda_function.py"]
        source = archive.read("lambda_function.py")
    assert source == Path(migration_lambda.__file__).read_bytes()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS

    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(path).extractall(unpacked)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import lambda_function as f; "
        "assert callable(f.handler) and not f._clients; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('runbook', 'pydantic')]; "
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(unpacked)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_lambda_package_command_writes_the_deployable_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    from runbook.cli.main import main

    out = tmp_path / "trigger.zip"
    assert main(["lambda", "package", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["lambda_function.py"]
        source = archive.read("lambda_function.py").decode()
    assert "def handler(event" in source
    assert "lambda_function.handler" in capsys.readouterr().out
    again = tmp_path / "again.zip"
    assert main(["lambda", "package", "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # reproducible
