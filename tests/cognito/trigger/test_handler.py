"""The UserMigration Lambda against pools in two moto accounts.

moto never invokes Lambda triggers, so each test calls `handler(event, None)`
with a real-shaped event while moto is active; where Cognito would then create
the user, the test does it from the handler's answer. moto issues SMS_MFA,
SOFTWARE_TOKEN_MFA and NEW_PASSWORD_REQUIRED challenges itself; EMAIL_OTP it
does not, so that one answer comes from a `before-send` hook.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from runbook.cognito.trigger import handler as migration_lambda
from runbook.cognito.trigger.handler import (
    BAD_CREDENTIALS,
    CANNOT_MIGRATE,
    LambdaConfig,
    MigrationRefused,
    handler,
)
from tests.support.lambda_world import (
    CANARY,
    Raw,
    World,
    add_confirmed,
    as_dict,
    attrs,
    create_as_cognito_would,
    enable_totp,
    migration_event,
    post_auth_event,
    sign_in,
)

SNS_ROLE = "arn:aws:iam::123456789012:role/cognito-sms"

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


def test_totp_user_is_accepted_on_the_password_or_told_it_cannot_move_by_policy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "tina", email="tina@example.com", email_verified="true")
    enable_totp(world, "tina")
    assert sign_in(world, "tina")["ChallengeName"] == "SOFTWARE_TOKEN_MFA"

    # The default: migrated on the verified password; a TOTP secret cannot move.
    response = handler(migration_event(world, "tina"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert not response.get("enableSMSMFA")
    # A wrong password is still refused: the challenge only follows a right one.
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(migration_event(world, "tina", "Wrong-Pa55word!"), None)

    monkeypatch.setenv("MFA_POLICY", "refuse")
    event = migration_event(world, "tina")
    with pytest.raises(MigrationRefused) as refused:
        handler(event, None)  # left to Forgot password or force-migration
    assert str(refused.value) == CANNOT_MIGRATE  # never "wrong password"
    assert event["response"]["userAttributes"] is None


def test_sms_mfa_user_keeps_sms_mfa_where_the_target_can_send_it(
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
    # The target has no SMS MFA: migrated without it (it would fail the migration).
    response = handler(migration_event(world, "sam"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert not response.get("enableSMSMFA")

    world.target.set_user_pool_mfa_config(
        UserPoolId=world.target_pool,
        SmsMfaConfiguration={"SmsConfiguration": {"SnsCallerArn": SNS_ROLE}},
        MfaConfiguration="OPTIONAL",
    )
    try:
        migration_lambda.reset_cache()
        monkeypatch.setenv("MFA_POLICY", "refuse")  # SMS moves whole: no factor dropped
        response = handler(migration_event(world, "sam"), None)["response"]
        assert response["finalUserStatus"] == "CONFIRMED"
        assert response["enableSMSMFA"] is True
    finally:
        world.target.set_user_pool_mfa_config(UserPoolId=world.target_pool, MfaConfiguration="OFF")


def email_otp_challenge(**_kwargs: Any) -> AWSResponse:
    body = json.dumps(
        {"ChallengeName": "EMAIL_OTP", "Session": "opaque", "ChallengeParameters": {}}
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse("https://cognito-idp.us-east-1.amazonaws.com/", 200, headers, Raw(body))


def test_email_otp_challenge_follows_the_policy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "eve", email="eve@example.com", email_verified="true")
    # moto has no EMAIL_OTP: the Lambda's own (cached) source client gets that answer.
    source = migration_lambda._client("source", LambdaConfig.from_env(os.environ))
    source.meta.events.register(
        "before-send.cognito-idp.AdminInitiateAuth", email_otp_challenge, unique_id="email-otp"
    )
    response = handler(migration_event(world, "eve"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert response["userAttributes"]["email"] == "eve@example.com"
    monkeypatch.setenv("MFA_POLICY", "refuse")
    with pytest.raises(MigrationRefused, match="cannot be moved"):
        handler(migration_event(world, "eve"), None)


def password_reset_required(**_kwargs: Any) -> AWSResponse:
    body = json.dumps(
        {"__type": "PasswordResetRequiredException", "message": "Password reset required."}
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse("https://cognito-idp.us-east-1.amazonaws.com/", 400, headers, Raw(body))


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
    assert migration_lambda.decide({"ChallengeName": "MFA_SETUP"}, "refuse").migrate
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
