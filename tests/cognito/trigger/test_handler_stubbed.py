"""The UserMigration Lambda against Cognito's documented answers (botocore Stubber).

moto has no EMAIL_OTP, no SELECT_MFA_TYPE and no MFA_SETUP after a password, and
never invokes triggers; Stubber checks each request and answer against the
service model. Events are shaped as the Cognito Lambda trigger documentation
shows them (user-pool-lambda-migrate-user.html).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from runbook.cognito.trigger import handler as migration_lambda
from runbook.cognito.trigger.handler import (
    BAD_CREDENTIALS,
    CANNOT_MIGRATE,
    NO_VERIFIED_CONTACT,
    MigrationRefused,
    handler,
)

SOURCE_POOL = "eu-west-1_SOURCE000"
TARGET_POOL = "eu-west-1_TARGET000"
CLIENT = "sourceclient0000000000000"
PASSWORD = "Canary-Pa55word!x7Q"  # must never appear in any log
SESSION = "opaque-session-0123456789abcdef"  # a challenge session: never logged
SUB = "11111111-2222-3333-4444-555555555555"
SMS_MFA_CONFIG = {"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::1:role/sms"}}


def event(username: str, *, forgot: bool = False) -> dict[str, Any]:
    """A UserMigration event as the documentation shows it."""
    request: dict[str, Any] = {"validationData": None, "clientMetadata": None}
    if not forgot:
        request["password"] = PASSWORD
    return {
        "version": "1",
        "triggerSource": (
            "UserMigration_ForgotPassword" if forgot else "UserMigration_Authentication"
        ),
        "region": "eu-west-1",
        "userPoolId": TARGET_POOL,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-js-3.0.0", "clientId": "targetclient"},
        "request": request,
        "response": {
            "userAttributes": None,
            "finalUserStatus": None,
            "messageAction": None,
            "desiredDeliveryMediums": None,
            "forceAliasCreation": None,
            "enableSMSMFA": None,
        },
    }


def source_user(
    *attributes: tuple[str, str], mfa: list[str] | None = None, enabled: bool = True
) -> dict[str, Any]:
    """AdminGetUser's answer for a user of an email-as-username pool (Username is the sub)."""
    return {
        "Username": SUB,
        "UserAttributes": [{"Name": "sub", "Value": SUB}]
        + [{"Name": n, "Value": v} for n, v in attributes],
        "Enabled": enabled,
        "UserStatus": "CONFIRMED",
        "UserMFASettingList": mfa or [],
    }


_SESSION = botocore.session.get_session()  # one model loader for the module


@dataclass
class Cognito:
    """The Lambda's two clients, stubbed; every AdminInitiateAuth counted."""

    source: Any
    target: Any
    source_stub: Stubber
    target_stub: Stubber
    auth_calls: list[str] = field(default_factory=list)

    def pools(self, *, reenrol: bool = True, sms_mfa: bool = True) -> None:
        """The descriptions read once per execution environment."""
        self.source_stub.add_response(
            "describe_user_pool",
            {"UserPool": {"Id": SOURCE_POOL, "UsernameAttributes": ["email"]}},
            {"UserPoolId": SOURCE_POOL},
        )
        schema = [{"Name": "email", "AttributeDataType": "String"}]
        if reenrol:
            schema.append({"Name": "custom:mfa_reenrol", "AttributeDataType": "String"})
        self.target_stub.add_response(
            "describe_user_pool",
            {
                "UserPool": {
                    "Id": TARGET_POOL,
                    "UsernameAttributes": ["email"],
                    "SchemaAttributes": schema,
                }
            },
            {"UserPoolId": TARGET_POOL},
        )
        mfa: dict[str, Any] = {"MfaConfiguration": "OPTIONAL" if sms_mfa else "OFF"}
        if sms_mfa:
            mfa["SmsMfaConfiguration"] = SMS_MFA_CONFIG
        self.target_stub.add_response("get_user_pool_mfa_config", mfa, {"UserPoolId": TARGET_POOL})

    def user(self, typed: str, answer: dict[str, Any] | None) -> None:
        if answer is None:
            self.source_stub.add_client_error(
                "admin_get_user", "UserNotFoundException", "User does not exist."
            )
        else:
            self.source_stub.add_response(
                "admin_get_user", answer, {"UserPoolId": SOURCE_POOL, "Username": typed}
            )

    def auth(self, answer: dict[str, Any] | None = None, error: str | None = None) -> None:
        expected = {
            "UserPoolId": SOURCE_POOL,
            "ClientId": CLIENT,
            "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": SUB, "PASSWORD": PASSWORD},
        }
        if error:
            self.source_stub.add_client_error(
                "admin_initiate_auth",
                error,
                "Incorrect username or password.",
                expected_params=expected,
            )
        else:
            self.source_stub.add_response("admin_initiate_auth", answer or {}, expected)


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cognito]:
    for name, value in {
        "OLD_USER_POOL_ID": SOURCE_POOL,
        "OLD_CLIENT_ID": CLIENT,
        "OLD_USER_POOL_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MFA_POLICY", "OLD_CLIENT_SECRET", "OLD_ROLE_ARN", "DEFAULT_COUNTRY_CODE"):
        monkeypatch.delenv(name, raising=False)
    clients = {
        which: _SESSION.create_client(
            "cognito-idp",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for which in ("source", "target")
    }
    world = Cognito(
        clients["source"], clients["target"], Stubber(clients["source"]), Stubber(clients["target"])
    )
    world.source.meta.events.register(
        "before-parameter-build.cognito-idp.AdminInitiateAuth",
        lambda **_: world.auth_calls.append("AdminInitiateAuth"),
    )
    monkeypatch.setattr(migration_lambda, "_client", lambda which, _config: clients[which])
    with world.source_stub, world.target_stub:
        yield world
        world.source_stub.assert_no_pending_responses()
        world.target_stub.assert_no_pending_responses()


def reenrol_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("lambda")]
    return [line for line in lines if line["event"] == "mfa_reenrol"]


# --- item 1: MFA users with the right password ---------------------------------------

MFA_CASES: dict[str, tuple[dict[str, Any], list[str], bool, str | None]] = {
    # challenge answer, the user's MFA settings -> enableSMSMFA, custom:mfa_reenrol
    "sms": ({"ChallengeName": "SMS_MFA"}, ["SMS_MFA"], True, None),
    "totp": ({"ChallengeName": "SOFTWARE_TOKEN_MFA"}, ["SOFTWARE_TOKEN_MFA"], False, "totp"),
    "email-otp": ({"ChallengeName": "EMAIL_OTP"}, ["EMAIL_OTP"], False, "email"),
    "sms-and-totp": (
        {
            "ChallengeName": "SELECT_MFA_TYPE",
            "ChallengeParameters": {"MFAS_CAN_CHOOSE": '["SMS_MFA","SOFTWARE_TOKEN_MFA"]'},
        },
        [],
        True,
        "totp",
    ),
}


@pytest.mark.parametrize("case", sorted(MFA_CASES))
def test_mfa_user_with_the_right_password_is_migrated_and_flagged(
    cognito: Cognito, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG)
    challenge, settings, sms_kept, flag = MFA_CASES[case]
    cognito.pools()
    cognito.user(
        "ann@example.com",
        source_user(
            ("email", "ann@example.com"),
            ("email_verified", "true"),
            ("phone_number", "+447700900123"),
            mfa=settings,
        ),
    )
    cognito.auth({**challenge, "Session": SESSION})
    response = handler(event("ann@example.com"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"
    assert response["messageAction"] == "SUPPRESS"
    assert bool(response.get("enableSMSMFA")) is sms_kept
    assert response["userAttributes"].get("custom:mfa_reenrol") == flag
    lines = reenrol_lines(caplog)
    assert [line["methods"] for line in lines] == ([flag.split(",")] if flag else [])
    assert cognito.auth_calls == ["AdminInitiateAuth"]
    assert PASSWORD not in caplog.text and SESSION not in caplog.text


def test_sms_user_is_flagged_where_the_target_cannot_send_sms_mfa(
    cognito: Cognito, caplog: pytest.LogCaptureFixture
) -> None:
    """enableSMSMFA on a pool without SMS MFA would fail the migration itself."""
    caplog.set_level(logging.INFO)
    cognito.pools(sms_mfa=False)
    cognito.user(
        "sam@example.com",
        source_user(("email", "sam@example.com"), ("phone_number", "+15550100002")),
    )
    cognito.auth({"ChallengeName": "SMS_MFA", "Session": SESSION})
    response = handler(event("sam@example.com"), None)["response"]
    assert not response.get("enableSMSMFA")
    assert response["userAttributes"]["custom:mfa_reenrol"] == "sms"


def test_flag_is_logged_only_when_the_target_lacks_the_attribute(
    cognito: Cognito, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cognito.pools(reenrol=False)
    cognito.user("tina@example.com", source_user(("email", "tina@example.com")))
    cognito.auth({"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": SESSION})
    response = handler(event("tina@example.com"), None)["response"]
    assert "custom:mfa_reenrol" not in response["userAttributes"]  # would fail the migration
    (line,) = reenrol_lines(caplog)
    assert line["methods"] == ["totp"] and line["attribute"] is None
    assert "custom:mfa_reenrol" in line["note"]


def test_mfa_setup_user_is_migrated_not_told_wrong_password(cognito: Cognito) -> None:
    cognito.pools()
    cognito.user("new@example.com", source_user(("email", "new@example.com")))
    cognito.auth(
        {
            "ChallengeName": "MFA_SETUP",
            "Session": SESSION,
            "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
        }
    )
    response = handler(event("new@example.com"), None)["response"]
    assert response["finalUserStatus"] == "CONFIRMED"


def test_refuse_policy_says_cannot_migrate_not_wrong_password(
    cognito: Cognito, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("MFA_POLICY", "refuse")
    cognito.pools()
    cognito.user("tina@example.com", source_user(("email", "tina@example.com")))
    cognito.auth({"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": SESSION})
    with pytest.raises(MigrationRefused) as refused:
        handler(event("tina@example.com"), None)
    assert str(refused.value) == CANNOT_MIGRATE != BAD_CREDENTIALS
    assert '"event": "not_migrated"' in caplog.text  # the operator's list
    # A wrong password is still "wrong password".
    cognito.user("tina@example.com", source_user(("email", "tina@example.com")))
    cognito.auth(error="NotAuthorizedException")
    with pytest.raises(MigrationRefused) as wrong:
        handler(event("tina@example.com"), None)
    assert str(wrong.value) == BAD_CREDENTIALS
    assert cognito.auth_calls == ["AdminInitiateAuth", "AdminInitiateAuth"]  # one each


# --- item 2: forgot password ------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [
        [("email", "ann@example.com"), ("email_verified", "false")],
        [("email", "ann@example.com")],
        # A verified phone that cannot be made E.164 does not move: nothing to send to.
        [
            ("email", "ann@example.com"),
            ("phone_number", "7700900123"),
            ("phone_number_verified", "true"),
        ],
    ],
    ids=["unverified-email", "no-flag", "unfixable-phone"],
)
def test_forgot_password_refuses_a_user_with_no_verified_contact(
    cognito: Cognito, attributes: list[tuple[str, str]]
) -> None:
    cognito.pools()
    cognito.user("ann@example.com", source_user(*attributes))
    ev = event("ann@example.com", forgot=True)
    with pytest.raises(MigrationRefused) as refused:
        handler(ev, None)
    assert str(refused.value) == NO_VERIFIED_CONTACT
    assert ev["response"]["userAttributes"] is None
    assert cognito.auth_calls == []


# --- item 3: one password check, pools read at init ---------------------------------------


def test_unknown_or_disabled_user_costs_no_password_attempt(cognito: Cognito) -> None:
    cognito.pools()
    cognito.user("ghost@example.com", None)
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(event("ghost@example.com"), None)
    cognito.user("off@example.com", source_user(("email", "off@example.com"), enabled=False))
    with pytest.raises(MigrationRefused, match=BAD_CREDENTIALS):
        handler(event("off@example.com"), None)
    assert cognito.auth_calls == []  # the source's lockout counter is never touched


def test_clients_and_source_pool_are_ready_at_init_and_read_once(cognito: Cognito) -> None:
    cognito.source_stub.add_response(
        "describe_user_pool",
        {"UserPool": {"Id": SOURCE_POOL, "UsernameAttributes": ["email"]}},
        {"UserPoolId": SOURCE_POOL},
    )
    migration_lambda.warm()  # Lambda's init phase
    cognito.source_stub.assert_no_pending_responses()
    # The target's description, once; then two sign-ins, one password check each.
    cognito.target_stub.add_response(
        "describe_user_pool", {"UserPool": {"Id": TARGET_POOL}}, {"UserPoolId": TARGET_POOL}
    )
    cognito.target_stub.add_response(
        "get_user_pool_mfa_config", {"MfaConfiguration": "OFF"}, {"UserPoolId": TARGET_POOL}
    )
    for _ in range(2):
        cognito.user("ann@example.com", source_user(("email", "ann@example.com")))
        cognito.auth({"AuthenticationResult": {"AccessToken": "eyJ.x.y"}})
        assert handler(event("ann@example.com"), None)["response"]["finalUserStatus"]
    assert cognito.auth_calls == ["AdminInitiateAuth"] * 2


# --- item 4: emails lower-case, DEFAULT_COUNTRY_CODE, in both paths --------------------


@pytest.mark.parametrize("forgot", [False, True], ids=["sign-in", "forgot-password"])
def test_emails_lower_case_and_default_country_code_in_both_paths(
    cognito: Cognito, monkeypatch: pytest.MonkeyPatch, forgot: bool
) -> None:
    monkeypatch.setenv("DEFAULT_COUNTRY_CODE", "44")
    cognito.pools()
    # Typed in capitals: looked up as typed, then lower-case (how force-migration compares).
    cognito.source_stub.add_client_error("admin_get_user", "UserNotFoundException")
    cognito.user(
        "ann@example.com",
        source_user(
            ("email", "Ann@Example.COM"),
            ("email_verified", "true"),
            ("phone_number", "7700 900123"),
            ("phone_number_verified", "true"),
        ),
    )
    if not forgot:
        cognito.auth({"AuthenticationResult": {"AccessToken": "eyJ.x.y"}})
    response = handler(event("Ann@Example.com", forgot=forgot), None)["response"]
    assert response["userAttributes"]["email"] == "ann@example.com"
    assert response["userAttributes"]["phone_number"] == "+447700900123"
    assert response["userAttributes"]["phone_number_verified"] == "true"
