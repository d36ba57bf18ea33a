"""Two moto user pools for the force-migration tests, and what a migrated pool looks like.

A helper module, not a test module: no tests and no fixtures here.
"""

from __future__ import annotations

import csv
import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.cognito.force_migrate import force_migrate
from runbook.cognito.journal import MAP_FILE
from tests.support.runbooks import REGION, TARGET

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
    email_username: bool = False
    """Both pools take an email as the username: Cognito names each user with a UUID."""

    def name(self, i: int) -> str:
        """What to pass as `Username` for the `i`-th user (an alias works for admin calls)."""
        return email_of(i) if self.email_username else username(i)


# The target sends through SES: Cognito's default sender (50 a day) would refuse
# the thousands of resets these tests make.
SES_SENDER = {
    "EmailSendingAccount": "DEVELOPER",
    "SourceArn": f"arn:aws:ses:{REGION}:{TARGET}:identity/no-reply@example.com",
}


def make_pools(
    admin: Any,
    *,
    mfa: bool = False,
    target_groups: tuple[str, ...] = (),
    email_username: bool = False,
) -> Pools:
    source = admin("source").client("cognito-idp")
    target = admin("target").client("cognito-idp")
    kind: dict[str, Any] = {"UsernameAttributes": ["email"]} if email_username else {}
    source_pool = source.create_user_pool(
        PoolName="prod-users",
        Schema=SCHEMA_SOURCE,
        MfaConfiguration="OPTIONAL" if mfa else "OFF",
        **kind,
    )["UserPool"]["Id"]
    target_pool = target.create_user_pool(
        PoolName="new-users",
        Schema=SCHEMA_TARGET,
        UsernameConfiguration={"CaseSensitive": False},
        EmailConfiguration=SES_SENDER,
        **kind,
    )["UserPool"]["Id"]
    for group in ("staff", "admins"):
        source.create_group(UserPoolId=source_pool, GroupName=group)
    for group in target_groups or ("staff", "admins"):
        target.create_group(UserPoolId=target_pool, GroupName=group)
    return Pools(source, target, source_pool, target_pool, email_username)


def username(i: int) -> str:
    return f"user{i:05d}"


def email_of(i: int) -> str:
    return f"user{i}@example.com"


def index_of(user: dict[str, Any]) -> int:
    """Which seeded user this is, by its email (the one identity both pools share)."""
    email = next(a["Value"] for a in user["Attributes"] if a["Name"] == "email")
    return int(email.lower().split("@")[0].removeprefix("user"))


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
        values = source_attributes(i)
        if pools.email_username:
            values["email"] = email_of(i)  # the sign-in name, as the user typed it
        pools.source.admin_create_user(
            UserPoolId=pools.source_pool,
            Username=pools.name(i),
            UserAttributes=[{"Name": k, "Value": v} for k, v in values.items()],
            MessageAction="SUPPRESS",
        )
        for group in groups_of(i):
            pools.source.admin_add_user_to_group(
                UserPoolId=pools.source_pool, Username=pools.name(i), GroupName=group
            )
        if i % 13 == 0:
            pools.source.admin_disable_user(UserPoolId=pools.source_pool, Username=pools.name(i))


def pre_migrate(pools: Pools, indexes: range) -> None:
    """Users who already signed in to the target (the lazy path): must stay untouched."""
    for i in indexes:
        values = expected_attributes(i) | {"custom:tier": "lazy"}
        pools.target.admin_create_user(
            UserPoolId=pools.target_pool,
            Username=pools.name(i),
            UserAttributes=[{"Name": k, "Value": v} for k, v in values.items()],
            MessageAction="SUPPRESS",
        )
        pools.target.admin_set_user_password(
            UserPoolId=pools.target_pool, Username=pools.name(i), Password=PASSWORD, Permanent=True
        )
        for group in groups_of(i):
            pools.target.admin_add_user_to_group(
                UserPoolId=pools.target_pool, Username=pools.name(i), GroupName=group
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
    """Every source user in the target once, mapped, grouped, in the sub map once.

    Users are matched by email, the identity both pools share: in email-as-username
    pools each side names the user with its own UUID.
    """
    source_list = all_users(pools.source, pools.source_pool)
    source_users = {u["Username"]: u for u in source_list}
    target_list = all_users(pools.target, pools.target_pool)
    target_users = {u["Username"]: u for u in target_list}
    by_index = {index_of(u): u for u in target_list}
    assert len(target_list) == len(target_users) == len(by_index) == count  # no duplicates
    assert sorted(by_index) == sorted(index_of(u) for u in source_list) == list(range(count))
    if not pools.email_username:
        assert set(target_users) == set(source_users)
    for i in range(count):
        user = by_index[i]
        values = {a["Name"]: a["Value"] for a in user["Attributes"] if a["Name"] != "sub"}
        if i in pre:
            assert values["custom:tier"] == "lazy" and user["UserStatus"] == "CONFIRMED"
            continue
        assert values == expected_attributes(i), username(i)
        # A disabled user is sent no reset code: it stays FORCE_CHANGE_PASSWORD.
        reset = i % 7 != 0 and i % 13 != 0
        assert user["UserStatus"] == ("RESET_REQUIRED" if reset else "FORCE_CHANGE_PASSWORD")
        assert user["Enabled"] == (i % 13 != 0)
    source_name = {u["Username"]: index_of(u) for u in source_list}
    target_name = {u["Username"]: index_of(u) for u in target_list}
    for group in ("staff", "admins"):
        moved = {target_name[n] for n in members(pools.target, pools.target_pool, group)}
        had = {source_name[n] for n in members(pools.source, pools.source_pool, group)}
        assert moved == had, group
    rows = read_map(state_dir)
    assert len(rows) == count and {r["username"] for r in rows} == set(source_users)
    for row in rows:
        old = source_users[row["username"]]
        assert row["old_sub"] == sub_of(old)
        new = by_index[index_of(old)]
        assert row["new_sub"] == sub_of(new)
        assert row["new_username"] == new["Username"]
        assert row["outcome"] in ("created", "existing")


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


def cancel_at(tick: int, cancel: threading.Event) -> Any:
    """A progress callback that cancels at its `tick`-th call (70: on the second page)."""
    ticks = itertools.count()

    def progress(_fraction: float | None, _text: str) -> None:
        if next(ticks) == tick:
            cancel.set()

    return progress


class Refused:
    """The HTTP response a before-call handler returns with its error (as Stubber does)."""

    status_code = 400
    headers: dict[str, str] = {}


def refusal(code: str, message: str) -> tuple[Refused, dict[str, Any]]:
    return Refused(), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
