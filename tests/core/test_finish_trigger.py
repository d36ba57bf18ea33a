"""`cognito.remove_trigger`: UserMigration leaves the target pool, every other setting stays.

UpdateUserPool resets every setting it is not sent to its default (Cognito's API
reference), and moto does the same, so a request carrying only LambdaConfig would
show here as lost MFA, email, policies and triggers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records
from runbook.cognito import remove_trigger
from runbook.cognito.journal import CHECKPOINT_FILE
from runbook.state import StepStatus
from tests.support.dnsworld import walk
from tests.support.finishworld import (
    Crash,
    crash_after_call,
    crash_before_outcome,
    crash_hook,
    finish_runbook,
    reopen,
)
from tests.support.runbooks import REGION, TARGET

LAMBDA = f"arn:aws:lambda:{REGION}:{TARGET}:function"
MIGRATION = f"{LAMBDA}:cognito-user-migration"
OTHER = f"{LAMBDA}:pre-signup-policy"
REMOVE = {"id": "remove-trigger", "action": {"kind": "cognito.remove_trigger"}}
SETTINGS: dict[str, Any] = {
    "Policies": {
        "PasswordPolicy": {
            "MinimumLength": 12,
            "RequireUppercase": True,
            "RequireLowercase": True,
            "RequireNumbers": True,
            "RequireSymbols": False,
            "TemporaryPasswordValidityDays": 3,
        }
    },
    "AutoVerifiedAttributes": ["email"],
    "MfaConfiguration": "OPTIONAL",
    "SmsConfiguration": {
        "SnsCallerArn": f"arn:aws:iam::{TARGET}:role/cognito-sms",
        "ExternalId": "cognito-sms-external",
    },
    "EmailConfiguration": {
        "EmailSendingAccount": "DEVELOPER",
        "SourceArn": f"arn:aws:ses:{REGION}:{TARGET}:identity/no-reply@example.com",
        "ReplyToEmailAddress": "support@example.com",
    },
    "VerificationMessageTemplate": {
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
        "EmailSubject": "Your code",
        "EmailMessage": "Your code is {####}",
    },
    "DeviceConfiguration": {
        "ChallengeRequiredOnNewDevice": True,
        "DeviceOnlyRememberedOnUserPrompt": True,
    },
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
    "UserPoolTags": {"team": "identity", "cost-centre": "42"},
    "DeletionProtection": "ACTIVE",
}
LAMBDAS = {
    "UserMigration": MIGRATION,
    "PostAuthentication": f"{MIGRATION}:live",  # the same function, by its alias
    "PreSignUp": OTHER,
    "CustomMessage": f"{LAMBDA}:custom-message",
}


def make_pool(admin: Any, lambdas: dict[str, str] = LAMBDAS) -> str:
    client = admin("target").client("cognito-idp")
    pool = client.create_user_pool(PoolName="prod-users", LambdaConfig=lambdas, **SETTINGS)
    return str(pool["UserPool"]["Id"])


def described(admin: Any, pool_id: str) -> dict[str, Any]:
    pool = admin("target").client("cognito-idp").describe_user_pool(UserPoolId=pool_id)
    return {k: v for k, v in pool["UserPool"].items() if k != "LastModifiedDate"}


def runbook(tmp_path: Path, pool_id: str, step: dict[str, Any] = REMOVE) -> Path:
    cognito = {"source_user_pool_id": f"{REGION}_SOURCE000", "target_user_pool_id": pool_id}
    return finish_runbook(tmp_path, [step], cognito=cognito)


def finished(tmp_path: Path, pool_id: str, *, done: bool = True, failed: int = 0) -> None:
    """The checkpoint a force-migration pass leaves in the state directory."""
    state_dir = tmp_path / ".runbook"
    state_dir.mkdir(exist_ok=True)
    checkpoint = {
        "version": 1,
        "source_user_pool_id": f"{REGION}_SOURCE000",
        "target_user_pool_id": pool_id,
        "page": 3,
        "finished": done,
        "finished_at": "2026-05-01T09:00:00+00:00" if done else None,
        "counts": {"created": 10, "failed": failed},
    }
    (state_dir / CHECKPOINT_FILE).write_text(json.dumps(checkpoint))


def assert_only_trigger_removed(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert after.pop("LambdaConfig") == {
        "PreSignUp": OTHER,
        "CustomMessage": f"{LAMBDA}:custom-message",
    }
    before.pop("LambdaConfig")
    assert after == before


def test_removes_the_trigger_and_keeps_every_other_setting(
    aws: None, admin: Any, tmp_path: Path
) -> None:
    pool_id = make_pool(admin)
    before = described(admin, pool_id)
    assert before["MfaConfiguration"] == "OPTIONAL" and before["UserPoolTags"]
    finished(tmp_path, pool_id)
    runtime, engine = reopen(runbook(tmp_path, pool_id))
    walk(engine, "verify-accounts")
    outcome = engine.do("remove-trigger")
    assert outcome.ok, outcome.summary
    assert set(outcome.details["removed"]) == {"UserMigration", "PostAuthentication"}
    assert_only_trigger_removed(before, described(admin, pool_id))
    # What the pool was is in the audit log, before the change.
    events = [(r["event"], r["step"]) for r in read_records(runtime.audit.path)]
    before_event = events.index((remove_trigger.POOL_BEFORE_EVENT, "remove-trigger"))
    assert before_event < events.index(("action.outcome", "remove-trigger"))
    runtime.close()


def test_a_pool_with_the_default_settings_keeps_them(aws: None, admin: Any, tmp_path: Path) -> None:
    """Created with defaults, a pool describes the deprecated UnusedAccountValidityDays too."""
    client = admin("target").client("cognito-idp")
    pool_id = client.create_user_pool(
        PoolName="defaults", UsernameAttributes=["email"], LambdaConfig={"UserMigration": MIGRATION}
    )["UserPool"]["Id"]
    before = described(admin, pool_id)
    assert before["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"]
    finished(tmp_path, pool_id)
    runtime, engine = reopen(runbook(tmp_path, pool_id))
    walk(engine, "verify-accounts")
    outcome = engine.do("remove-trigger")
    assert outcome.ok, outcome.summary
    after = described(admin, pool_id)
    assert not after.get("LambdaConfig")
    assert after["Policies"] == before["Policies"]
    invite = before["AdminCreateUserConfig"]["InviteMessageTemplate"]
    assert after["AdminCreateUserConfig"]["InviteMessageTemplate"] == invite
    runtime.close()


def test_a_post_authentication_trigger_of_another_function_stays(
    aws: None, admin: Any, tmp_path: Path
) -> None:
    post = f"{LAMBDA}:audit-sign-ins"
    pool_id = make_pool(admin, {"UserMigration": MIGRATION, "PostAuthentication": post})
    finished(tmp_path, pool_id)
    runtime, engine = reopen(runbook(tmp_path, pool_id))
    walk(engine, "verify-accounts")
    assert engine.do("remove-trigger").ok
    assert described(admin, pool_id)["LambdaConfig"] == {"PostAuthentication": post}
    runtime.close()


def test_sending_only_lambda_config_would_reset_the_pool(
    aws: None, admin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-back catches what a naive request does (this is why the request carries all)."""
    pool_id = make_pool(admin)
    finished(tmp_path, pool_id)
    monkeypatch.setattr(
        remove_trigger, "update_request", lambda _client, pool: {"UserPoolId": pool["Id"]}
    )
    runtime, engine = reopen(runbook(tmp_path, pool_id))
    walk(engine, "verify-accounts")
    outcome = engine.do("remove-trigger")
    assert not outcome.ok
    lost = {d.split(":", 1)[0] for d in outcome.details["differences"]}
    assert {"EmailConfiguration", "AccountRecoverySetting", "UserPoolTags"} <= lost
    # moto reset them, as AWS does: Cognito's own sender instead of SES.
    email = described(admin, pool_id)["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "COGNITO_DEFAULT"
    runtime.close()


@pytest.mark.parametrize(
    ("checkpoint", "why"),
    [
        (None, "force-migration has not run"),
        ({"done": False}, "has not finished"),
        ({"failed": 2}, "2 user(s) failed"),
    ],
)
def test_refused_until_the_migration_is_complete(
    aws: None, admin: Any, tmp_path: Path, checkpoint: dict[str, Any] | None, why: str
) -> None:
    pool_id = make_pool(admin)
    before = described(admin, pool_id)
    if checkpoint is not None:
        finished(tmp_path, pool_id, **checkpoint)
    runtime, engine = reopen(runbook(tmp_path, pool_id))
    walk(engine, "verify-accounts")
    outcome = engine.do("remove-trigger")
    assert not outcome.ok
    assert "not complete" in outcome.summary and why in outcome.summary
    assert described(admin, pool_id) == before  # nothing sent
    runtime.close()


def test_declared_complete_on_the_step(aws: None, admin: Any, tmp_path: Path) -> None:
    pool_id = make_pool(admin)
    before = described(admin, pool_id)
    step = {**REMOVE, "action": {"kind": "cognito.remove_trigger", "migration_complete": True}}
    runtime, engine = reopen(runbook(tmp_path, pool_id, step))
    walk(engine, "verify-accounts")
    outcome = engine.do("remove-trigger")
    assert outcome.ok, outcome.summary
    assert "declared on the step" in outcome.details["complete"]
    assert_only_trigger_removed(before, described(admin, pool_id))
    runtime.close()


def test_no_trigger_left_sends_nothing(aws: None, admin: Any, tmp_path: Path) -> None:
    pool_id = make_pool(admin, {"PreSignUp": OTHER})
    finished(tmp_path, pool_id)
    runtime, engine = reopen(runbook(tmp_path, pool_id))
    walk(engine, "verify-accounts")
    crash_hook(runtime, "target", "cognito-idp", "UpdateUserPool", "before")
    outcome = engine.do("remove-trigger")  # a Crash here would mean UpdateUserPool was sent
    assert outcome.ok and "nothing sent" in outcome.summary
    runtime.close()


def test_the_deprecated_validity_days_is_not_sent_beside_its_replacement(aws: None) -> None:
    import boto3

    client = boto3.client("cognito-idp", region_name=REGION)
    pool = {
        "Id": f"{REGION}_abc",
        "Name": "prod-users",
        "Policies": {"PasswordPolicy": {"TemporaryPasswordValidityDays": 7}},
        "AdminCreateUserConfig": {
            "AllowAdminCreateUserOnly": True,
            "UnusedAccountValidityDays": 7,
        },
        "UserPoolTier": "ESSENTIALS",
        "Arn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc",
    }
    request = remove_trigger.update_request(client, pool)
    assert request["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert request["PoolName"] == "prod-users"
    assert "UserPoolTier" not in request and "Arn" not in request


@pytest.mark.parametrize("point", ["after_send", "before_outcome"])
def test_a_crash_after_the_update_reconciles_as_removed(
    aws: None, admin: Any, tmp_path: Path, point: str
) -> None:
    pool_id = make_pool(admin)
    before = described(admin, pool_id)
    finished(tmp_path, pool_id)
    path = runbook(tmp_path, pool_id)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    if point == "after_send":
        crash_after_call(runtime, "target", "cognito-idp", "UpdateUserPool")
    else:
        crash_before_outcome(runtime)
    with pytest.raises(Crash):
        engine.do("remove-trigger")
    runtime.close()

    runtime, engine = reopen(path)
    [message] = engine.reconcile()
    assert "the UserMigration trigger had been removed" in message
    assert engine.status("remove-trigger") == StepStatus.DONE
    assert_only_trigger_removed(before, described(admin, pool_id))
    runtime.close()


def test_a_crash_before_the_update_offers_the_step_again(
    aws: None, admin: Any, tmp_path: Path
) -> None:
    pool_id = make_pool(admin)
    finished(tmp_path, pool_id)
    path = runbook(tmp_path, pool_id)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    crash_hook(runtime, "target", "cognito-idp", "UpdateUserPool", "before")
    with pytest.raises(Crash):
        engine.do("remove-trigger")
    runtime.close()
    assert described(admin, pool_id)["LambdaConfig"]["UserMigration"] == MIGRATION

    runtime, engine = reopen(path)
    [message] = engine.reconcile()
    assert "offered again" in message
    assert engine.do("remove-trigger").ok
    assert "UserMigration" not in described(admin, pool_id)["LambdaConfig"]
    runtime.close()
