"""The Post authentication group copy on pools that sign in by email (moto, two accounts).

In such pools the target's `userName` is its own UUID: the source user is found
by the email both pools share. The event is shaped as the Cognito trigger
documentation shows it (user-pool-lambda-post-authentication.html).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from runbook.cognito.trigger import common
from runbook.cognito.trigger import handler as migration_lambda
from runbook.cognito.trigger.handler import LambdaConfig, MigrationRefused, handler
from tests.support.lambda_world import SOURCE_FLOWS, World, attrs

GROUPS = ["admins", "ops", "staff"]


@dataclass
class EmailPools:
    world: World
    source_pool: str
    target_pool: str


@pytest.fixture
def email_pools(world: World, monkeypatch: pytest.MonkeyPatch) -> EmailPools:
    """Both pools sign in by email; the Lambda's environment names the source one."""
    source_pool = world.source.create_user_pool(
        PoolName=f"{world.prefix}src", UsernameAttributes=["email"]
    )["UserPool"]["Id"]
    client = world.source.create_user_pool_client(
        UserPoolId=source_pool, ClientName="migration", ExplicitAuthFlows=SOURCE_FLOWS
    )["UserPoolClient"]["ClientId"]
    target_pool = world.target.create_user_pool(
        PoolName=f"{world.prefix}dst", UsernameAttributes=["email"]
    )["UserPool"]["Id"]
    for group in GROUPS:
        world.source.create_group(UserPoolId=source_pool, GroupName=group)
        world.target.create_group(UserPoolId=target_pool, GroupName=group)
    monkeypatch.setenv("OLD_USER_POOL_ID", source_pool)
    monkeypatch.setenv("OLD_CLIENT_ID", client)
    return EmailPools(world, source_pool, target_pool)


def migrated(pools: EmailPools, email: str) -> str:
    """A user in the source groups, created in the target as Cognito would: the target's
    username (a UUID) is returned."""
    source, target = pools.world.source, pools.world.target
    created = source.admin_create_user(
        UserPoolId=pools.source_pool,
        Username=email,
        UserAttributes=attrs(email=email, email_verified="true"),
        MessageAction="SUPPRESS",
    )["User"]["Username"]
    for group in GROUPS:
        source.admin_add_user_to_group(
            UserPoolId=pools.source_pool, Username=created, GroupName=group
        )
    user = target.admin_create_user(
        UserPoolId=pools.target_pool,
        Username=email.lower(),
        UserAttributes=attrs(email=email.lower(), email_verified="true"),
        MessageAction="SUPPRESS",
    )["User"]
    return str(user["Username"])


def post_auth(pools: EmailPools, username: str, email: str) -> dict[str, Any]:
    """A PostAuthentication_Authentication event as the documentation shows it."""
    return {
        "version": "1",
        "triggerSource": "PostAuthentication_Authentication",
        "region": "us-east-1",
        "userPoolId": pools.target_pool,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-js-3.0.0", "clientId": "targetclient"},
        "request": {
            "userAttributes": {
                "sub": username,
                "cognito:user_status": "CONFIRMED",
                "email_verified": "true",
                "email": email,
            },
            "newDeviceUsed": False,
        },
        "response": {},
    }


def target_groups(pools: EmailPools, username: str) -> list[str]:
    found = pools.world.target.admin_list_groups_for_user(
        UserPoolId=pools.target_pool, Username=username
    )
    return sorted(g["GroupName"] for g in found["Groups"])


def test_groups_are_copied_by_the_shared_email_not_the_targets_uuid(
    email_pools: EmailPools,
) -> None:
    username = migrated(email_pools, "ann@example.com")
    assert "@" not in username  # the target's own UUID, unknown to the source
    event = post_auth(email_pools, username, "ann@example.com")
    assert handler(event, None) == event  # the event back, never a failed sign-in
    assert target_groups(email_pools, username) == GROUPS


def test_a_copy_cut_short_by_the_deadline_is_finished_at_the_next_sign_in(
    email_pools: EmailPools, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = migrated(email_pools, "bob@example.com")
    # The Lambda's own (cached) target client.
    target = migration_lambda._client("target", LambdaConfig.from_env(os.environ))
    adds: list[str] = []

    def count(**kwargs: Any) -> None:
        adds.append(kwargs["params"]["GroupName"])

    # The first sign-in runs out of time after its first group.
    original = common.Deadline.check

    def check(self: common.Deadline) -> None:
        if adds:
            raise MigrationRefused(common.UNAVAILABLE)
        original(self)

    monkeypatch.setattr(common.Deadline, "check", check)
    unique = f"count-{username}"
    target.meta.events.register(
        "before-parameter-build.cognito-idp.AdminAddUserToGroup", count, unique_id=unique
    )
    try:
        handler(post_auth(email_pools, username, "bob@example.com"), None)
    finally:
        target.meta.events.unregister(
            "before-parameter-build.cognito-idp.AdminAddUserToGroup", unique_id=unique
        )
    assert target_groups(email_pools, username) == ["admins"]

    monkeypatch.setattr(common.Deadline, "check", original)
    handler(post_auth(email_pools, username, "bob@example.com"), None)
    assert target_groups(email_pools, username) == GROUPS


def test_a_membership_an_administrator_removed_is_not_put_back(
    email_pools: EmailPools,
) -> None:
    username = migrated(email_pools, "cat@example.com")
    handler(post_auth(email_pools, username, "cat@example.com"), None)
    email_pools.world.target.admin_remove_user_from_group(
        UserPoolId=email_pools.target_pool, Username=username, GroupName="admins"
    )
    handler(post_auth(email_pools, username, "cat@example.com"), None)
    assert target_groups(email_pools, username) == ["ops", "staff"]
