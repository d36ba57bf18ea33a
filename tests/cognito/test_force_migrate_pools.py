"""Force-migration on every kind of pool: the name each user is created under.

In a pool whose username is an email or phone number (`UsernameAttributes`),
Cognito names each user with a generated UUID; `AdminCreateUser` in such a
pool takes the email or phone instead. The demo's pools, and the console's
default choice, are of this kind: the first round sent the source UUID and
every user failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook.cognito.force_migrate import ForceMigrationError
from tests.support.cognito_pools import SES_SENDER, all_users, read_map
from tests.support.cognito_pools import Pools as PoolPair
from tests.support.cognito_pools import run as run_on

KINDS: dict[str, dict[str, Any]] = {
    "username": {},
    "email-as-username": {"UsernameAttributes": ["email"]},
    "phone-as-username": {"UsernameAttributes": ["phone_number"]},
    "email-alias": {"AliasAttributes": ["email"]},
}
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/cognito-sms", "ExternalId": "sms"}
USERS = 24


def run(pools: PoolPair, clients: tuple[Any, Any], state_dir: Path, **kwargs: Any) -> Any:
    # One worker: in-process moto iterates an email pool's users while another
    # thread adds one (the demo's emulator serialises requests for this reason).
    return run_on(pools, clients, state_dir, workers=1, **kwargs)


def person(i: int) -> dict[str, str]:
    values = {
        "email": f"Person{i}@Example.com",
        "email_verified": "false" if i % 6 == 0 else "true",
        "phone_number": f"+4470000{i:05d}",
        "phone_number_verified": "true",
    }
    return values


def name_in(kind: str, i: int) -> str:
    if kind == "email-as-username":
        return f"person{i}@example.com"
    if kind == "phone-as-username":
        return f"+4470000{i:05d}"
    return f"person{i:03d}"


def make(admin: Any, kind: str, *, target_kind: str | None = None, sender: Any = None) -> PoolPair:
    source = admin("source").client("cognito-idp")
    target = admin("target").client("cognito-idp")
    source_pool = source.create_user_pool(
        PoolName="src", MfaConfiguration="OPTIONAL", SmsConfiguration=SMS, **KINDS[kind]
    )["UserPool"]["Id"]
    target_pool = target.create_user_pool(
        PoolName="dst",
        MfaConfiguration="OPTIONAL",
        SmsConfiguration=SMS,
        EmailConfiguration=sender or SES_SENDER,
        **KINDS[target_kind or kind],
    )["UserPool"]["Id"]
    for i in range(USERS):
        source.admin_create_user(
            UserPoolId=source_pool,
            Username=name_in(kind, i),
            UserAttributes=[
                {"Name": k, "Value": v.lower() if k == "email" else v} for k, v in person(i).items()
            ],
            MessageAction="SUPPRESS",
        )
        if i % 5 == 0:
            source.admin_set_user_mfa_preference(
                UserPoolId=source_pool,
                Username=name_in(kind, i),
                SMSMfaSettings={"Enabled": True, "PreferredMfa": True},
            )
        if i % 7 == 0:
            source.admin_disable_user(UserPoolId=source_pool, Username=name_in(kind, i))
    return PoolPair(source, target, source_pool, target_pool)


def attrs(user: dict[str, Any]) -> dict[str, str]:
    found = user.get("Attributes", user.get("UserAttributes", []))
    return {a["Name"]: a["Value"] for a in found}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_user_moves_once_under_the_name_the_target_takes(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path, kind: str
) -> None:
    pools = make(admin, kind)
    report = run(pools, clients, tmp_path)
    assert report.finished and report.counts.failed == 0, report.failures
    assert report.counts.created == USERS

    source = {u["Username"]: u for u in all_users(pools.source, pools.source_pool)}
    target = {u["Username"]: u for u in all_users(pools.target, pools.target_pool)}
    assert len(target) == USERS
    rows = {r["username"]: r for r in read_map(tmp_path)}
    assert set(rows) == set(source)  # keyed by the source's own username
    by_email = {attrs(u)["email"]: u for u in target.values()}
    for old_name, row in rows.items():
        new = target[row["new_username"]]  # the map names the target's own username
        assert attrs(new)["sub"] == row["new_sub"]
        assert attrs(source[old_name])["sub"] == row["old_sub"]
        assert by_email[attrs(source[old_name])["email"]] is new  # the same person
        if kind in ("email-as-username", "phone-as-username"):
            assert new["Username"] != old_name  # both sides' UUIDs, never reused
        else:
            assert new["Username"] == old_name

    for i in range(USERS):
        user = by_email[f"person{i}@example.com"]
        disabled = i % 7 == 0
        assert user["Enabled"] is not disabled
        # Disabled users are sent nothing; everyone else gets a reset code on a
        # verified contact (every user here has a verified phone).
        assert user["UserStatus"] == ("FORCE_CHANGE_PASSWORD" if disabled else "RESET_REQUIRED")
        details = pools.target.admin_get_user(
            UserPoolId=pools.target_pool, Username=user["Username"]
        )
        assert ("SMS_MFA" in details.get("UserMFASettingList", [])) is (i % 5 == 0), i
    assert report.counts.sms_mfa == len(range(0, USERS, 5))
    assert report.counts.disabled == len(range(0, USERS, 7))


def test_a_user_without_the_identifier_the_target_needs_is_listed_not_guessed(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make(admin, "username", target_kind="email-as-username")
    pools.source.admin_delete_user_attributes(
        UserPoolId=pools.source_pool, Username=name_in("username", 3), UserAttributeNames=["email"]
    )
    report = run(pools, clients, tmp_path)
    assert report.finished and report.counts.failed == 0
    assert report.counts.created == USERS - 1 and report.counts.listed == 1
    listed = (tmp_path / "cognito-no-identifier.txt").read_text().split()
    assert listed == ["person003"]
    assert "1 not created" in report.summary()
    emails = {attrs(u).get("email") for u in all_users(pools.target, pools.target_pool)}
    assert "person3@example.com" not in emails and len(emails) == USERS - 1


def test_sms_mfa_the_target_cannot_send_is_listed(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make(admin, "email-as-username")
    pools.target.update_user_pool(
        UserPoolId=pools.target_pool, MfaConfiguration="OFF", EmailConfiguration=SES_SENDER
    )
    report = run(pools, clients, tmp_path)
    assert report.counts.sms_mfa == 0
    assert report.counts.sms_mfa_dropped == len(range(0, USERS, 5))
    assert (tmp_path / "cognito-sms-mfa-dropped.txt").read_text().split()


def test_a_reset_wave_the_default_sender_cannot_deliver_is_refused_before_any_reset(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make(admin, "email-as-username", sender={"EmailSendingAccount": "COGNITO_DEFAULT"})
    for i in range(USERS, 60):  # 60 users to reset, Cognito's default sender sends 50 a day
        pools.source.admin_create_user(
            UserPoolId=pools.source_pool,
            Username=f"person{i}@example.com",
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
    events: list[tuple[str, dict[str, Any]]] = []
    with pytest.raises(ForceMigrationError) as refused:
        run(pools, clients, tmp_path, audit=lambda e, **d: events.append((e, d)))
    message = str(refused.value)
    assert "about 60 users need a reset code" in message and "deliver 50 today" in message
    assert all_users(pools.target, pools.target_pool) == []  # nothing created, nothing sent
    assert events[0] == (
        "cognito.force_migrate.sender",
        {
            "email_sending_account": "COGNITO_DEFAULT",
            "can_send_today": 50,
            "users_to_reset": 60,
            "sms_configured": True,
        },
    )
    # A dry run only reads: it is not refused.
    assert run(pools, clients, tmp_path, dry_run=True).counts.created == 60


def test_ses_quota_left_today_bounds_the_wave(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make(admin, "email-as-username")
    ses = admin("target").client("ses")
    quota = ses.get_send_quota()
    left = int(quota["Max24HourSend"] - quota["SentLast24Hours"])
    assert left < 10_000  # moto reports the SES sandbox's quota
    for i in range(USERS, left + 1):
        pools.source.admin_create_user(
            UserPoolId=pools.source_pool,
            Username=f"person{i}@example.com",
            MessageAction="SUPPRESS",
        )
    with pytest.raises(ForceMigrationError, match=f"can deliver {left} today"):
        run(pools, clients, tmp_path, ses_client=ses)
