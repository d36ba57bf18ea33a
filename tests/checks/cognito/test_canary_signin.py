"""cognito.canary_signin with botocore's Stubber: moto never invokes Lambda triggers.

Responses follow the service model (the Stubber validates them) and the error
messages Cognito documents for the migrate-user trigger.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, CheckResult, Status
from tests.support.checks import result_text, run_check
from tests.support.runbooks import base_runbook

SOURCE_POOL = "eu-west-1_Source1"
TARGET_POOL = "eu-west-1_Target1"
CLIENT = "targetclient0000000000000"
CANARY = "canary@example.com"
PASSWORD = "Canary-Pa55word-7731!"
TRIGGER = "arn:aws:lambda:eu-west-1:222222222222:function:usermigration"
WHEN = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
SIGN_IN = {
    "ClientId": CLIENT,
    "AuthFlow": "USER_PASSWORD_AUTH",
    "AuthParameters": {"USERNAME": CANARY, "PASSWORD": PASSWORD},
}
TOKENS = {
    "AuthenticationResult": {
        "AccessToken": "eyJraWQiOiJhY2Nlc3MifQ.access.sig",
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
        "RefreshToken": "eyJjdHkiOiJKV1QifQ.refresh.sig",
        "IdToken": "eyJraWQiOiJpZCJ9.id.sig",
    },
    "ChallengeParameters": {},
}


@pytest.fixture
def runbook_dict() -> dict[str, Any]:
    raw = base_runbook()
    raw["cognito"] = {"source_user_pool_id": SOURCE_POOL, "target_user_pool_id": TARGET_POOL}
    return raw


@pytest.fixture
def ctx(check_context: CheckContext, monkeypatch: pytest.MonkeyPatch) -> CheckContext:
    monkeypatch.setenv("RUNBOOK_CANARY_USERNAME", CANARY)
    monkeypatch.setenv("RUNBOOK_CANARY_PASSWORD", PASSWORD)
    check_context.emulated = False
    return check_context


class Stubs:
    def __init__(self, ctx: CheckContext) -> None:
        self.source = Stubber(ctx.client("source", "cognito-idp"))
        self.target = Stubber(ctx.client("target", "cognito-idp"))
        self.secrets = Stubber(ctx.client("target", "secretsmanager"))

    def verify(self) -> None:
        for stub in (self.source, self.target, self.secrets):
            stub.assert_no_pending_responses()

    # --- the calls, in the check's order ---

    def source_user(self, status: str = "CONFIRMED", enabled: bool = True) -> None:
        self.source.add_response(
            "admin_get_user",
            user("0b5e-source-sub", SOURCE_ATTRIBUTES, status, enabled),
            {"UserPoolId": SOURCE_POOL, "Username": CANARY},
        )

    def target_pool(self, trigger: bool = True) -> None:
        pool: dict[str, Any] = {
            "Id": TARGET_POOL,
            "SchemaAttributes": [
                {"Name": "custom:tenant_id", "AttributeDataType": "String", "Mutable": True}
            ],
            "LambdaConfig": {"UserMigration": TRIGGER} if trigger else {},
        }
        self.target.add_response(
            "describe_user_pool", {"UserPool": pool}, {"UserPoolId": TARGET_POOL}
        )

    def target_user(
        self, attributes: list[dict[str, str]] | None, status: str = "CONFIRMED"
    ) -> None:
        params = {"UserPoolId": TARGET_POOL, "Username": CANARY}
        if attributes is None:
            self.target.add_client_error(
                "admin_get_user", "UserNotFoundException", "User does not exist.", 400, params
            )
        else:
            self.target.add_response(
                "admin_get_user", user("9d2a-target-sub", attributes, status), params
            )

    def sign_in(self, response: dict[str, Any]) -> None:
        self.target.add_response("initiate_auth", response, SIGN_IN)

    def sign_in_refused(self, code: str, message: str) -> None:
        self.target.add_client_error("initiate_auth", code, message, 400, SIGN_IN)

    def before_sign_in(self, in_target: list[dict[str, str]] | None = None) -> None:
        self.source_user()
        self.target_pool()
        self.target_user(in_target)


SOURCE_ATTRIBUTES = [
    {"Name": "sub", "Value": "0b5e-source-sub"},
    {"Name": "email", "Value": "Canary@Example.com"},
    {"Name": "email_verified", "Value": "true"},
    {"Name": "custom:tenant_id", "Value": "tenant-07"},
]
# As the trigger maps them: the target's own sub, the email lower-cased.
MIGRATED = [
    {"Name": "sub", "Value": "9d2a-target-sub"},
    {"Name": "email", "Value": "canary@example.com"},
    {"Name": "email_verified", "Value": "true"},
    {"Name": "custom:tenant_id", "Value": "tenant-07"},
]


def user(
    sub: str, attributes: list[dict[str, str]], status: str = "CONFIRMED", enabled: bool = True
) -> dict[str, Any]:
    return {
        "Username": sub,
        "UserAttributes": attributes,
        "UserCreateDate": WHEN,
        "UserLastModifiedDate": WHEN,
        "Enabled": enabled,
        "UserStatus": status,
    }


@pytest.fixture
def stubs(ctx: CheckContext) -> Iterator[Stubs]:
    s = Stubs(ctx)
    with s.source, s.target, s.secrets:
        yield s


def canary(ctx: CheckContext, **params: Any) -> CheckResult:
    return run_check(ctx, "cognito.canary_signin", {"target_client_id": CLIENT, **params})


def test_a_migrated_canary_with_the_sources_attributes_passes(
    ctx: CheckContext, stubs: Stubs
) -> None:
    stubs.before_sign_in()
    stubs.sign_in(TOKENS)
    stubs.target_user(MIGRATED)
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.PASS, result
    assert "through the trigger and was migrated" in result.summary
    ev = result.evidence
    assert ev["signed_in"] is True and ev["in_target_before"] is False
    assert ev["attributes_compared"] == ["custom:tenant_id", "email", "email_verified"]
    assert "AccessToken" not in json.dumps(ev) and "eyJ" not in result.model_dump_json()


def test_wrong_password_fails(ctx: CheckContext, stubs: Stubs) -> None:
    stubs.before_sign_in()
    stubs.sign_in_refused("NotAuthorizedException", "Incorrect username or password.")
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.FAIL, result
    assert "NotAuthorizedException: Incorrect username or password." in result.summary
    assert "the password is wrong" in result_text(result)


def test_a_trigger_cognito_cannot_run_fails(ctx: CheckContext, stubs: Stubs) -> None:
    # Cognito's answer when the trigger is missing or its resource policy refuses Cognito.
    stubs.before_sign_in()
    stubs.sign_in_refused(
        "UserNotFoundException", f"Exception migrating user in app client {CLIENT}"
    )
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.FAIL, result
    assert "Exception migrating user" in result.summary
    assert "resource policy" in result_text(result)


def test_an_mfa_challenge_proves_the_trigger_but_not_a_sign_in(
    ctx: CheckContext, stubs: Stubs
) -> None:
    # Cognito asks for the code only after the trigger returned and the user was created.
    stubs.before_sign_in()
    stubs.sign_in(
        {
            "ChallengeName": "SMS_MFA",
            "Session": "AYABeEXAMPLEsessionEXAMPLEsession0123456789",
            "ChallengeParameters": {
                "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                "CODE_DELIVERY_DESTINATION": "+*******0199",
                "USER_ID_FOR_SRP": "9d2a-target-sub",
            },
        }
    )
    stubs.target_user(MIGRATED)
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.WARN, result
    assert result.summary == f"the trigger migrated canary {CANARY}, but sign-in stopped at SMS_MFA"
    assert "Session" not in result.evidence and "AYAB" not in result.model_dump_json()


def test_mfa_setup_warns_that_every_user_must_enrol(ctx: CheckContext, stubs: Stubs) -> None:
    stubs.before_sign_in()
    stubs.sign_in(
        {
            "ChallengeName": "MFA_SETUP",
            "Session": "AYABeEXAMPLEsessionEXAMPLEsession0123456789",
            "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
        }
    )
    stubs.target_user(MIGRATED)
    result = canary(ctx)
    assert result.status == Status.WARN, result
    assert "requires MFA" in result_text(result)


def test_new_password_required_fails(ctx: CheckContext, stubs: Stubs) -> None:
    stubs.before_sign_in()
    stubs.sign_in(
        {
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": "AYABeEXAMPLEsessionEXAMPLEsession0123456789",
            "ChallengeParameters": {"requiredAttributes": "[]", "userAttributes": "{}"},
        }
    )
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.FAIL, result
    assert "must set a new password" in result.summary


def test_wrong_attributes_fail_by_name(ctx: CheckContext, stubs: Stubs) -> None:
    stubs.before_sign_in()
    stubs.sign_in(TOKENS)
    stubs.target_user([a for a in MIGRATED if a["Name"] != "custom:tenant_id"])
    result = canary(ctx)
    assert result.status == Status.FAIL, result
    assert result.summary.endswith("1 attribute(s) differ from the source: custom:tenant_id")
    assert result.evidence["attributes_wrong"] == ["custom:tenant_id"]


def test_a_canary_already_in_the_target_cannot_prove_the_trigger(
    ctx: CheckContext, stubs: Stubs
) -> None:
    stubs.before_sign_in(in_target=MIGRATED)
    stubs.sign_in(TOKENS)
    stubs.target_user(MIGRATED)
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.WARN, result
    assert "did not go through the trigger" in result.summary
    assert "delete" in result_text(result)


def test_a_force_migrated_canary_is_not_signed_in(ctx: CheckContext, stubs: Stubs) -> None:
    # Created with a temporary password: a sign-in would skip the trigger and be asked
    # for a new password. No InitiateAuth is queued: sending one would raise.
    stubs.source_user()
    stubs.target_pool()
    stubs.target_user(MIGRATED, status="FORCE_CHANGE_PASSWORD")
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.FAIL, result
    assert "temporary password" in result.summary


@pytest.mark.parametrize(
    ("status", "enabled", "words"),
    [("CONFIRMED", False, "disabled"), ("RESET_REQUIRED", True, "not CONFIRMED")],
)
def test_a_canary_that_cannot_sign_in_to_the_source_fails(
    ctx: CheckContext, stubs: Stubs, status: str, enabled: bool, words: str
) -> None:
    stubs.source_user(status, enabled)
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.FAIL and words in result.summary, result


def test_a_target_pool_without_the_trigger_fails_before_signing_in(
    ctx: CheckContext, stubs: Stubs
) -> None:
    stubs.source_user()
    stubs.target_pool(trigger=False)
    result = canary(ctx)
    stubs.verify()
    assert result.status == Status.FAIL and "no Migrate user trigger" in result.summary


def test_credentials_from_a_secret(
    ctx: CheckContext, stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_CANARY_PASSWORD")
    secret = json.dumps({"username": CANARY, "password": PASSWORD})
    stubs.secrets.add_response(
        "get_secret_value",
        {"Name": "runbook/canary", "SecretString": secret},
        {"SecretId": "runbook/canary"},
    )
    stubs.before_sign_in()
    stubs.sign_in(TOKENS)
    stubs.target_user(MIGRATED)
    result = canary(ctx, secret_id="runbook/canary")
    stubs.verify()
    assert result.status == Status.PASS, result
    assert result.evidence["credentials_from"] == "secret runbook/canary"

    stubs.secrets.add_client_error(
        "get_secret_value",
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
        400,
        {"SecretId": "runbook/other"},
    )
    missing = canary(ctx, secret_id="runbook/other")
    assert missing.status == Status.FAIL and "ResourceNotFoundException" in missing.summary


def test_no_credentials_fail_without_a_call(
    ctx: CheckContext, stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOK_CANARY_PASSWORD")
    result = canary(ctx)  # any call would meet an empty Stubber and raise
    assert result.status == Status.FAIL, result
    assert "$RUNBOOK_CANARY_PASSWORD" in result.summary


def test_the_password_param_is_refused() -> None:
    from checks.cognito.canary_signin import CanarySigninParams

    with pytest.raises(ValueError, match="password"):
        CanarySigninParams.model_validate({"target_client_id": CLIENT, "password": PASSWORD})


def test_on_the_emulator_it_says_so(ctx: CheckContext, stubs: Stubs) -> None:
    ctx.emulated = True
    result = canary(ctx)
    assert result.status == Status.SKIPPED, result
    assert "never invokes Cognito Lambda triggers" in result.summary


def test_the_password_never_appears(
    ctx: CheckContext,
    stubs: Stubs,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    results = []
    stubs.before_sign_in()
    stubs.sign_in(TOKENS)
    stubs.target_user(MIGRATED)
    results.append(canary(ctx))
    # A trigger that echoes what it was given: its message reaches the sign-in error.
    stubs.before_sign_in()
    stubs.sign_in_refused(
        "UserLambdaValidationException",
        f"UserMigration failed with error could not sign in {CANARY} with {PASSWORD}.",
    )
    results.append(canary(ctx))
    stubs.before_sign_in()
    stubs.sign_in_refused("TooManyRequestsException", f"Rate exceeded for {PASSWORD}")
    results.append(canary(ctx))
    stubs.verify()
    assert [r.status for r in results] == [Status.PASS, Status.FAIL, Status.ERROR]
    assert "UserMigration failed with error" in results[1].summary
    assert "[REDACTED]" in results[1].summary
    captured = capsys.readouterr()
    for text in (
        caplog.text,
        captured.out,
        captured.err,
        *(r.model_dump_json() for r in results),
    ):
        assert PASSWORD not in text
