"""The Post authentication trigger: a just-migrated user's source groups, copied to the target.

Standard library and boto3 only: the deployed zip carries this file as
`cognito_groups.py`. The clients come from the handler (its one factory).

The target's `userName` is not the source's: in a pool that signs in by email
or phone number it is the target's own UUID. The source user is found by the
attribute both pools share (email, then phone number; see
`migration.find_source_user`), and by the username only where the target's
usernames are real usernames.

Groups are added in sorted order, so a copy cut short by the deadline leaves
the first few: at the next sign-in, a user whose target groups are exactly
such a beginning of the source's gets the rest. Any other set (an
administrator removed or added one) is left alone, and nothing is done once
GROUP_COPY_WINDOW_S has passed since the user was created in the target.
Never fails the sign-in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING or __package__:  # the repository: runbook.cognito.trigger.groups
    from .common import Deadline, LambdaConfig, MigrationRefused, PoolInfo, code_of, log_event
    from .migration import find_source_user
else:  # the deployed zip
    from cognito_migration import find_source_user
    from cognito_trigger_common import (
        Deadline,
        LambdaConfig,
        MigrationRefused,
        PoolInfo,
        code_of,
        log_event,
    )

SHARED_ATTRIBUTES = ("email", "phone_number")


def copy_groups(
    event: dict[str, Any],
    config: LambdaConfig,
    target: Any,
    source: Callable[[], Any],
    pools: Callable[[], tuple[PoolInfo, PoolInfo]],
    deadline: Deadline,
) -> dict[str, Any]:
    """Add the user to the source groups the copy has not added yet; see the module.

    `source` and `pools` are called only for a user created within the window:
    most sign-ins are of users migrated long ago and cost one AdminGetUser.
    """
    pool, username = str(event.get("userPoolId", "")), str(event.get("userName", ""))
    remaining: list[str] = []
    try:
        deadline.check()
        created = target.admin_get_user(UserPoolId=pool, Username=username)["UserCreateDate"]
        if time.time() - created.timestamp() > config.group_copy_window_s:
            return event
        have = _groups(target, pool, username, deadline)
        source_pool, target_pool = pools()
        client = source()
        user = _source_user(client, config, source_pool, target_pool, event, deadline)
        if user is None:
            log_event("groups_no_source_user", logging.INFO, username=username)
            return event
        wanted = sorted(_groups(client, config.user_pool_id, str(user["Username"]), deadline))
        if have != set(wanted[: len(have)]):
            return event  # not what an unfinished copy leaves: someone changed them
        remaining = wanted[len(have) :]
        added: list[str] = []
        while remaining:
            deadline.check()
            group = remaining[0]
            try:
                target.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
                added.append(group)
            except ClientError as exc:
                if code_of(exc) != "ResourceNotFoundException":
                    raise
                log_event("group_missing", logging.WARNING, username=username, group=group)
            remaining.pop(0)
        if added:
            log_event("groups_copied", logging.INFO, username=username, groups=added)
    except MigrationRefused:
        # Out of time: the next sign-in (within the window) finishes the copy.
        log_event("groups_incomplete", logging.WARNING, username=username, remaining=remaining)
    except Exception as exc:
        log_event("groups_not_copied", logging.WARNING, username=username, code=code_of(exc))
    return event


def _source_user(
    client: Any,
    config: LambdaConfig,
    source_pool: PoolInfo,
    target_pool: PoolInfo,
    event: dict[str, Any],
    deadline: Deadline,
) -> dict[str, Any] | None:
    """The source user this target user was migrated from, by the attribute the pools share."""
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    for name in SHARED_ATTRIBUTES:
        value = str(attributes.get(name) or "")
        if value:
            found = find_source_user(client, config, source_pool, value, deadline, attribute=name)
            if found is not None:
                return found
    if target_pool.username_attributes:
        return None  # the target's userName is its own UUID: meaningless in the source
    return find_source_user(
        client, config, source_pool, str(event.get("userName", "")), deadline, attribute=""
    )


def _groups(client: Any, pool: str, username: str, deadline: Deadline) -> set[str]:
    groups: set[str] = set()
    kwargs: dict[str, Any] = {"UserPoolId": pool, "Username": username, "Limit": 60}
    while True:
        deadline.check()
        try:
            page = client.admin_list_groups_for_user(**kwargs)
        except ClientError as exc:
            if code_of(exc) == "UserNotFoundException":
                return groups
            raise
        groups.update(g["GroupName"] for g in page.get("Groups", []))
        if not page.get("NextToken"):
            return groups
        kwargs["NextToken"] = page["NextToken"]
