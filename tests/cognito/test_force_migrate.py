"""Force-migration against pools in two moto accounts: exactly once, resumable, throttled.

The source is always reached through the session factory's guarded client, so
every test also shows that force-migration only reads the source.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from runbook.audit.verify import read_records
from runbook.aws.session import SessionFactory
from runbook.cognito.force_migrate import (
    CHECKPOINT_FILE,
    JOURNAL_FILE,
    MAP_FILE,
    TOTP_FILE,
    ForceMigrationError,
    ForceMigrationReport,
    RateLimiter,
    force_migrate,
    map_attributes,
    to_e164,
)
from runbook.cognito.trigger.handler import accepted_attributes
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.helpers import base_runbook, write_runbook

SCHEMA_SOURCE = [
    {"Name": "tier", "AttributeDataType": "String", "Mutable": True},
    {"Name": "legacy", "AttributeDataType": "String", "Mutable": True},
]
SCHEMA_TARGET = [{"Name": "tier", "AttributeDataType": "String", "Mutable": True}]
PASSWORD = "Seed-Pa55word!"


@dataclass
class Pools:
    source: Any  # unguarded clients, to seed and inspect
    target: Any
    source_pool: str
    target_pool: str


def make_pools(admin: Any, *, mfa: bool = False, target_groups: tuple[str, ...] = ()) -> Pools:
    source = admin("source").client("cognito-idp")
    target = admin("target").client("cognito-idp")
    source_pool = source.create_user_pool(
        PoolName="prod-users",
        Schema=SCHEMA_SOURCE,
        MfaConfiguration="OPTIONAL" if mfa else "OFF",
    )["UserPool"]["Id"]
    target_pool = target.create_user_pool(
        PoolName="new-users",
        Schema=SCHEMA_TARGET,
        UsernameConfiguration={"CaseSensitive": False},
    )["UserPool"]["Id"]
    for group in ("staff", "admins"):
        source.create_group(UserPoolId=source_pool, GroupName=group)
    for group in target_groups or ("staff", "admins"):
        target.create_group(UserPoolId=target_pool, GroupName=group)
    return Pools(source, target, source_pool, target_pool)


def username(i: int) -> str:
    return f"user{i:05d}"


def source_attributes(i: int) -> dict[str, str]:
    values = {
        "email": f"User{i}@Example.COM",
        "email_verified": "false" if i % 7 == 0 else "true",
        "custom:tier": f"t{i % 3}",
        "custom:legacy": "not in the target",
    }
    if i % 5 == 0:
        values["phone_number"] = f"+1 (555) 010-{i % 10000:04d}"
        values["phone_number_verified"] = "false"
    elif i % 11 == 0:
        values["phone_number"] = "555-0101 ext. 9"  # no country code: cannot be E.164
        values["phone_number_verified"] = "true"
    return values


def expected_attributes(i: int) -> dict[str, str]:
    values = source_attributes(i)
    del values["custom:legacy"]
    values["email"] = values["email"].lower()
    if i % 5 == 0:
        values["phone_number"] = f"+1555010{i % 10000:04d}"
    elif i % 11 == 0:
        del values["phone_number"], values["phone_number_verified"]
    return values


def groups_of(i: int) -> list[str]:
    return [g for g, every in (("admins", 10), ("staff", 3)) if i % every == 0]


def seed(pools: Pools, count: int) -> None:
    for i in range(count):
        pools.source.admin_create_user(
            UserPoolId=pools.source_pool,
            Username=username(i),
            UserAttributes=[{"Name": k, "Value": v} for k, v in source_attributes(i).items()],
            MessageAction="SUPPRESS",
        )
        for group in groups_of(i):
            pools.source.admin_add_user_to_group(
                UserPoolId=pools.source_pool, Username=username(i), GroupName=group
            )
        if i % 13 == 0:
            pools.source.admin_disable_user(UserPoolId=pools.source_pool, Username=username(i))


def pre_migrate(pools: Pools, indexes: range) -> None:
    """Users who already signed in to the target (the lazy path): must stay untouched."""
    for i in indexes:
        values = expected_attributes(i) | {"custom:tier": "lazy"}
        pools.target.admin_create_user(
            UserPoolId=pools.target_pool,
            Username=username(i),
            UserAttributes=[{"Name": k, "Value": v} for k, v in values.items()],
            MessageAction="SUPPRESS",
        )
        pools.target.admin_set_user_password(
            UserPoolId=pools.target_pool, Username=username(i), Password=PASSWORD, Permanent=True
        )
        for group in groups_of(i):
            pools.target.admin_add_user_to_group(
                UserPoolId=pools.target_pool, Username=username(i), GroupName=group
            )


def all_users(client: Any, pool: str) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    for page in client.get_paginator("list_users").paginate(
        UserPoolId=pool, PaginationConfig={"PageSize": 60}
    ):
        users.extend(page["Users"])
    return users


def members(client: Any, pool: str, group: str) -> set[str]:
    return {
        user["Username"]
        for page in client.get_paginator("list_users_in_group").paginate(
            UserPoolId=pool, GroupName=group
        )
        for user in page["Users"]
    }


def sub_of(user: dict[str, Any]) -> str:
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


def read_map(state_dir: Path, name: str = MAP_FILE) -> list[dict[str, str]]:
    with open(state_dir / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_migrated_exactly_once(
    pools: Pools, state_dir: Path, count: int, pre: range = range(0)
) -> None:
    """Every source user in the target once, mapped, grouped, in the sub map once."""
    source_users = {u["Username"]: u for u in all_users(pools.source, pools.source_pool)}
    target_list = all_users(pools.target, pools.target_pool)
    target_users = {u["Username"]: u for u in target_list}
    assert len(target_list) == len(target_users) == count  # no duplicates
    assert set(target_users) == set(source_users)
    for i in range(count):
        user = target_users[username(i)]
        values = {a["Name"]: a["Value"] for a in user["Attributes"] if a["Name"] != "sub"}
        if i in pre:
            assert values["custom:tier"] == "lazy" and user["UserStatus"] == "CONFIRMED"
            continue
        assert values == expected_attributes(i), username(i)
        verified = i % 7 != 0
        assert user["UserStatus"] == ("RESET_REQUIRED" if verified else "FORCE_CHANGE_PASSWORD")
        assert user["Enabled"] == (i % 13 != 0)
    for group in ("staff", "admins"):
        assert members(pools.target, pools.target_pool, group) == members(
            pools.source, pools.source_pool, group
        )
    rows = read_map(state_dir)
    assert len(rows) == count and {r["username"] for r in rows} == set(source_users)
    for row in rows:
        assert row["old_sub"] == sub_of(source_users[row["username"]])
        assert row["new_sub"] == sub_of(target_users[row["username"]])
        assert row["outcome"] in ("created", "existing")


@pytest.fixture
def clients(sessions: SessionFactory) -> tuple[Any, Any]:
    """The source through the guard, as the action gets it."""
    return sessions.client("source", "cognito-idp"), sessions.client("target", "cognito-idp")


def run(pools: Pools, clients: tuple[Any, Any], state_dir: Path, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"rate_per_second": 10_000, "case_insensitive_emails": True}
    options.update(kwargs)
    return force_migrate(
        *clients,
        source_pool=pools.source_pool,
        target_pool=pools.target_pool,
        state_dir=state_dir,
        **options,
    )


# --- a few thousand users ---------------------------------------------------------------


def test_thousands_of_users_into_a_target_that_already_holds_some(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    count, pre = 2000, range(0, 2000, 10)
    pools = make_pools(admin)
    seed(pools, count)
    pre_migrate(pools, pre)
    progress: list[tuple[float | None, str]] = []
    audit: list[tuple[str, dict[str, Any]]] = []
    report = run(
        pools,
        clients,
        tmp_path,
        progress=lambda f, t: progress.append((f, t)),
        audit=lambda event, **details: audit.append((event, details)),
    )
    assert report.finished and report.counts.failed == 0, report.failures
    assert report.counts.created == count - len(pre)
    assert report.counts.existing == len(pre)
    created = [i for i in range(count) if i not in pre]
    assert report.counts.phone_unfixable == sum(1 for i in created if i % 11 == 0 and i % 5)
    assert report.counts.no_verified_contact == sum(1 for i in created if i % 7 == 0)
    assert report.counts.emails_lowercased == len(created)
    assert_migrated_exactly_once(pools, tmp_path, count, pre)
    phones = (tmp_path / "cognito-phone-unfixable.txt").read_text().split()
    assert phones == [username(i) for i in created if i % 11 == 0 and i % 5]
    assert progress[-1][0] == 1.0 and len(progress) > count / 2
    assert [e for e, _ in audit] == [
        "cognito.force_migrate.started",
        "cognito.force_migrate.summary",
    ]


def test_killed_half_way_and_restarted_finishes_without_duplicates(
    moto_server: str, admin: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="werkzeug")  # a line per request otherwise
    count, pre = 300, range(0, 300, 25)
    pools = make_pools(admin)
    seed(pools, count)
    pre_migrate(pools, pre)

    def child(kill_after: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.cognito.force_child",
                str(tmp_path),
                pools.source_pool,
                pools.target_pool,
                str(kill_after),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    # Killed on the first page, then again half-way (each AdminCreateUser counts, also
    # those answered UsernameExists).
    for kill_after, page in ((20, 0), (140, 2)):
        killed = child(kill_after)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        checkpoint = json.loads((tmp_path / CHECKPOINT_FILE).read_text())
        assert checkpoint["page"] >= page and not checkpoint["finished"]
    assert 140 <= len(all_users(pools.target, pools.target_pool)) < count

    restarted = child(kill_after=0)
    assert restarted.returncode == 0, restarted.stderr
    report = json.loads(restarted.stdout)
    assert report["resumed"] and report["finished"] and report["counts"]["failed"] == 0
    assert report["counts"]["created"] + report["counts"]["existing"] == count
    assert report["counts"]["existing"] == len(pre)  # ours are never mistaken for theirs
    assert_migrated_exactly_once(pools, tmp_path, count, pre)


# --- dry run, idempotence, resume -----------------------------------------------------


def snapshot(pools: Pools) -> list[Any]:
    users = sorted(all_users(pools.target, pools.target_pool), key=lambda u: u["Username"])
    groups = [sorted(members(pools.target, pools.target_pool, g)) for g in ("staff",)]
    return [users, groups]


def test_dry_run_changes_nothing_and_says_what_it_would_do(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make_pools(admin)
    seed(pools, 90)
    pre_migrate(pools, range(0, 90, 9))
    for user in members(pools.target, pools.target_pool, "admins"):
        pools.target.admin_remove_user_from_group(
            UserPoolId=pools.target_pool, Username=user, GroupName="admins"
        )
    pools.target.delete_group(UserPoolId=pools.target_pool, GroupName="admins")
    before = snapshot(pools)
    report = run(pools, clients, tmp_path, dry_run=True)
    assert snapshot(pools) == before
    assert report.dry_run and report.finished
    assert report.counts.created == 80 and report.counts.existing == 10
    assert report.missing_groups == ["admins"]
    assert "would create 80 users" in report.summary()
    assert not (tmp_path / CHECKPOINT_FILE).exists() and not (tmp_path / MAP_FILE).exists()
    would = [r for r in read_map(tmp_path, MAP_FILE + ".dry-run") if r["outcome"] == "would_create"]
    assert len(would) == 80 and all(r["new_sub"] == "" for r in would)


def test_missing_target_group_stops_before_any_write(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make_pools(admin, target_groups=("staff",))
    seed(pools, 12)
    with pytest.raises(ForceMigrationError, match="lacks the source's groups admins"):
        run(pools, clients, tmp_path)
    assert all_users(pools.target, pools.target_pool) == []


def cancel_at(tick: int, cancel: threading.Event) -> Any:
    """A progress callback that cancels at its `tick`-th call (70: on the second page)."""
    ticks = itertools.count()

    def progress(_fraction: float | None, _text: str) -> None:
        if next(ticks) == tick:
            cancel.set()

    return progress


def enable_totp(pools: Pools, client_id: str, name: str) -> None:
    pools.source.admin_set_user_password(
        UserPoolId=pools.source_pool, Username=name, Password=PASSWORD, Permanent=True
    )
    token = pools.source.admin_initiate_auth(
        UserPoolId=pools.source_pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    pools.source.associate_software_token(AccessToken=token)
    pools.source.verify_software_token(AccessToken=token, UserCode="123456")
    pools.source.admin_set_user_mfa_preference(
        UserPoolId=pools.source_pool,
        Username=name,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


def test_cancel_resume_and_rerun_are_idempotent_and_list_totp_users(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    count = 150
    pools = make_pools(admin, mfa=True)
    seed(pools, count)
    client_id = pools.source.create_user_pool_client(
        UserPoolId=pools.source_pool,
        ClientName="admin",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    totp = [username(i) for i in (1, 61, 149)]
    for name in totp:
        enable_totp(pools, client_id, name)

    cancel = threading.Event()
    first = run(pools, clients, tmp_path, cancel=cancel, progress=cancel_at(70, cancel))
    assert first.cancelled and not first.finished
    assert "run the step again" in first.summary()

    second = run(pools, clients, tmp_path)
    assert second.resumed and second.finished
    assert second.counts.created == count and second.counts.seen == count  # none twice
    assert sorted(second.totp_users) == totp
    assert (tmp_path / TOTP_FILE).read_text().split() == totp
    assert_migrated_exactly_once(pools, tmp_path, count)

    third = run(pools, clients, tmp_path)  # a new pass: everyone is already there
    assert not third.resumed and third.finished
    assert third.counts.created == 0 and third.counts.existing == count
    assert_migrated_exactly_once(pools, tmp_path, count)
    assert len(list(tmp_path.glob(MAP_FILE + ".*"))) == 1  # the first pass's map, kept


class Refused:
    """The HTTP response a before-call handler returns with its error (as Stubber does)."""

    status_code = 400
    headers: dict[str, str] = {}


def refusal(code: str, message: str) -> tuple[Refused, dict[str, Any]]:
    return Refused(), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


def test_refused_position_starts_a_new_pass_and_finishes_half_made_users(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    count, half_made = 150, 141  # user00141: in staff, verified email, enabled
    pools = make_pools(admin)
    seed(pools, count)
    cancel = threading.Event()
    first = run(pools, clients, tmp_path, cancel=cancel, progress=cancel_at(70, cancel))
    assert first.cancelled and json.loads((tmp_path / CHECKPOINT_FILE).read_text())["page_token"]
    # As if the process had died right after creating user00141 (not on this page).
    with open(tmp_path / JOURNAL_FILE, "ab") as journal:
        journal.write(json.dumps({"begin": username(half_made), "t": time.time()}).encode() + b"\n")
    pools.target.admin_create_user(
        UserPoolId=pools.target_pool,
        Username=username(half_made),
        UserAttributes=[{"Name": k, "Value": v} for k, v in expected_attributes(half_made).items()],
        MessageAction="SUPPRESS",
    )
    refused: list[str] = []

    def expired_token(params: dict[str, Any], **_kwargs: Any) -> Any:
        if b"PaginationToken" not in params["body"] or refused:
            return None
        refused.append("once")
        return refusal("InvalidParameterException", "Invalid pagination token")

    clients[0].meta.events.register("before-call.cognito-idp.ListUsers", expired_token)
    audit: list[str] = []
    second = run(pools, clients, tmp_path, audit=lambda event, **_: audit.append(event))
    assert refused and "cognito.force_migrate.restarted" in audit
    assert second.finished and not second.resumed and second.counts.failed == 0
    assert second.counts.created + second.counts.existing == count
    rows = {r["username"]: r for r in read_map(tmp_path)}
    assert rows[username(half_made)]["outcome"] == "created"  # finished, not skipped as theirs
    assert_migrated_exactly_once(pools, tmp_path, count)


def test_a_cause_common_to_all_users_stops_the_run(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make_pools(admin)
    seed(pools, 40)

    def refuse(**_kwargs: Any) -> Any:
        return refusal("InvalidParameterException", "account recovery is not set up")

    clients[1].meta.events.register("before-call.cognito-idp.AdminCreateUser", refuse)
    audit: list[str] = []
    with pytest.raises(ForceMigrationError, match=r"25 users failed in a row.*account recovery"):
        run(pools, clients, tmp_path, audit=lambda event, **_: audit.append(event))
    assert audit.count("cognito.force_migrate.user_failed") >= 25
    assert audit[-1] == "cognito.force_migrate.stopped"
    clients[1].meta.events.unregister("before-call.cognito-idp.AdminCreateUser", refuse)
    report = run(pools, clients, tmp_path)
    assert report.resumed and report.finished and report.counts.created == 40
    assert report.counts.seen == 40 and report.counts.failed == 0


# --- throttling ------------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


class Throttler:
    """before-send: every `every`-th request answers TooManyRequestsException, `limit` times."""

    def __init__(self, every: int, limit: int) -> None:
        self.every = every
        self.remaining = limit
        self.seen = 0
        self.injected = 0
        self.lock = threading.Lock()

    def __call__(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        with self.lock:
            self.seen += 1
            if self.remaining == 0 or self.seen % self.every:
                return None
            self.remaining -= 1
            self.injected += 1
        body = json.dumps(
            {"__type": "TooManyRequestsException", "message": "Too many requests"}
        ).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))


@pytest.mark.parametrize("emulator", ["server", "in-process"])
def test_throttling_slows_it_down_but_loses_nobody(
    emulator: str,
    request: pytest.FixtureRequest,
    admin: Any,
    sessions: SessionFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Against moto's server a throttled request never arrives, as with Cognito. In-process
    moto still applies it and only the answer is lost (as after a timeout): the retry
    meets a user it created itself, which must be finished, not skipped."""
    request.getfixturevalue("moto_server" if emulator == "server" else "aws")
    caplog.set_level(logging.WARNING, logger="werkzeug")
    count = 120
    pools = make_pools(admin)
    seed(pools, count)
    pre_migrate(pools, range(0, count, 12))
    # One attempt per botocore call: every throttle reaches force-migration's own backoff.
    once = Config(retries={"mode": "standard", "total_max_attempts": 1})
    source = sessions.client("source", "cognito-idp", config=once)
    target = sessions.client("target", "cognito-idp", config=once)
    throttles = [Throttler(every=3, limit=60), Throttler(every=2, limit=10)]
    target.meta.events.register("before-send.cognito-idp", throttles[0])
    source.meta.events.register("before-send.cognito-idp", throttles[1])
    report = run(pools, (source, target), tmp_path, backoff_base_s=0.001, max_backoff_s=0.01)
    assert report.finished and report.counts.failed == 0, report.failures
    assert [t.injected for t in throttles] == [60, 10]
    assert report.counts.throttled == 70
    assert report.counts.existing == len(range(0, count, 12))
    assert_migrated_exactly_once(pools, tmp_path, count, range(0, count, 12))


def test_rate_limiter_spaces_requests_and_backs_off() -> None:
    waits: list[float] = []
    limiter = RateLimiter(50.0, waits.append)  # a wait that returns at once: slots pile up
    for _ in range(11):
        limiter.acquire()
    assert len(waits) == 10  # the first call never waits
    assert waits[-1] == pytest.approx(10 / 50.0, abs=0.005)
    assert all(b - a == pytest.approx(1 / 50.0, abs=0.005) for a, b in itertools.pairwise(waits))
    limiter.throttled()
    assert limiter.rate == 25.0
    for _ in range(100):
        limiter.succeeded()
    assert limiter.rate == 50.0


# --- attribute mapping -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,country,expected",
    [
        ("+15550100001", None, "+15550100001"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("+1 (555) 010-0001", None, "+15550100001"),
        ("5550100001", None, None),  # no country code and none given
        ("5550100001", "1", "+15550100001"),
        ("020 7946 0958", "44", None),  # trunk 0: country rules differ, never guessed
        ("555-0101 ext. 9", "1", None),
        ("+1234", None, None),
        ("+1234567890123456", None, None),
        ("", None, None),
    ],
)
def test_phone_numbers_to_e164(raw: str, country: str | None, expected: str | None) -> None:
    assert to_e164(raw, country) == expected


def test_mapping_drops_sub_keeps_custom_and_verified_flags() -> None:
    accepted = accepted_attributes([{"Name": "custom:tier"}, {"Name": "sub"}])
    mapped = map_attributes(
        [
            {"Name": "sub", "Value": "old"},
            {"Name": "email", "Value": "Ann@Example.com"},
            {"Name": "email_verified", "Value": "false"},
            {"Name": "phone_number", "Value": "12345"},
            {"Name": "phone_number_verified", "Value": "true"},
            {"Name": "custom:tier", "Value": "gold"},
            {"Name": "custom:gone", "Value": "x"},
        ],
        accepted,
        case_insensitive_emails=False,
    )
    assert mapped.attributes == {
        "email": "Ann@Example.com",  # case-sensitive pool: left alone
        "email_verified": "false",
        "custom:tier": "gold",
    }
    assert mapped.flags == {"phone_unfixable", "attributes_dropped"}


# --- the step action ---------------------------------------------------------------------


def test_step_action_audits_a_summary_and_each_failure(
    aws: None, admin: Any, sessions: SessionFactory, tmp_path: Path
) -> None:
    pools = make_pools(admin)
    seed(pools, 15)
    runbook = base_runbook()
    runbook["cognito"] = {
        "source_user_pool_id": pools.source_pool,
        "target_user_pool_id": pools.target_pool,
    }
    runbook["steps"] = [
        {
            "id": "force-migrate",
            "title": "Force-migrate the rest",
            "phase": "after cutover",
            "action": {"kind": "cognito.force_migrate", "rate_per_second": 40},
        }
    ]
    runtime = Runtime.open(write_runbook(tmp_path, runbook), sessions=sessions)
    engine = Engine(runtime)

    def refuse_user_7(params: dict[str, Any], **_kwargs: Any) -> Any:
        """before-call, like Stubber: the emulator never sees the refused request."""
        if b'"user00007"' not in params["body"]:
            return None
        return refusal("InvalidParameterException", "injected: bad attribute")

    target = sessions.client("target", "cognito-idp")
    target.meta.events.register("before-call.cognito-idp.AdminCreateUser", refuse_user_7)
    seen: list[float | None] = []
    outcome = engine.do("force-migrate", progress=lambda f, _t: seen.append(f))
    assert not outcome.ok and "14 users" in outcome.summary and "1 failed" in outcome.summary
    assert seen and seen[-1] == 1.0
    failures = [
        r
        for r in read_records(runtime.audit.path)
        if r["event"] == "cognito.force_migrate.user_failed"
    ]
    assert [(f["details"]["username"], f["details"]["code"]) for f in failures] == [
        ("user00007", "InvalidParameterException")
    ]

    assert "user00007" not in {u["Username"] for u in all_users(pools.target, pools.target_pool)}
    target.meta.events.unregister("before-call.cognito-idp.AdminCreateUser", refuse_user_7)
    outcome = engine.do("force-migrate")  # a step without checks may be retried
    assert outcome.ok, outcome.summary
    assert outcome.details["counts"]["created"] == 1 and outcome.details["counts"]["existing"] == 14
    events = [r["event"] for r in read_records(runtime.audit.path)]
    assert events.count("cognito.force_migrate.summary") == 2
    assert events[-1] == "action.outcome"
    runtime.close()


def test_report_summary_for_an_unfinished_run() -> None:
    report = ForceMigrationReport("us-east-1_a", "us-east-1_b", dry_run=False)
    assert "not finished" in report.summary()
