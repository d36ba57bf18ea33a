"""A run flipped to the target and watched, with a target user pool: what a rollback leaves.

The runbook is the bundled playbook's cutover in small: lower the TTL, the source
owner's after-rollback step (re-enable writes), make the source read-only, flip,
watch (a manual step here), verify. Users are created in the target pool before and
after the flip, so "users created or changed since the flip" has a known answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.runbooks import base_runbook, write_runbook

REENABLE = "re-enable-source-writes"
READ_ONLY = "source-read-only"
WATCH = "watch-after-flip"
CUTOVER = ("verify-accounts", "lower-ttl", READ_ONLY, "flip-dns", WATCH)
SOURCE_POOL = "us-east-1_SOURCE0"


def _manual(step_id: str, title: str, phase: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "title": title,
        "phase": phase,
        "action": {"kind": "manual", "confirm": f"{title}: done"},
        **extra,
    }


def rollback_book(zone: str, target_pool: str | None) -> dict[str, Any]:
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    verify, lower, flip = book["steps"]
    book["steps"] = [
        verify,
        lower,
        _manual(
            REENABLE,
            "After a rollback: the source owner re-enables writes",
            "rollback",
            after_rollback=True,
        ),
        _manual(READ_ONLY, "Make the source database read-only", "cutover"),
        flip,
        _manual(WATCH, "Watch the target after the flip", "after"),
        _manual("verify-traffic", "Confirm traffic is served by the target", "after"),
    ]
    if target_pool is not None:
        book["cognito"] = {"source_user_pool_id": SOURCE_POOL, "target_user_pool_id": target_pool}
    return book


@dataclass
class RollbackWorld:
    path: Path
    zone: str
    target_pool: str | None
    cognito: Any  # an unguarded target-account client, to seed users

    def add_users(self, prefix: str, count: int) -> None:
        assert self.target_pool is not None
        for i in range(count):
            self.cognito.admin_create_user(
                UserPoolId=self.target_pool,
                Username=f"{prefix}{i:03d}",
                MessageAction="SUPPRESS",
            )


def flipped_world(
    directory: Path,
    *,
    before: int = 0,
    after: int = 0,
    with_pool: bool = True,
    steps: tuple[str, ...] = CUTOVER,
) -> RollbackWorld:
    """A run on disk walked through `steps`, no process holding it.

    `before` users exist in the target pool before the flip, `after` are created once
    it is done (a second later: Cognito's dates may be whole seconds).
    """
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    cognito = session.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="new-users")["UserPool"]["Id"] if with_pool else None
    world = RollbackWorld(Path(), zone, pool, cognito)
    if pool is not None and before:
        world.add_users("early", before)
        time.sleep(1.1)
    world.path = write_runbook(directory, rollback_book(zone, pool))
    runtime = Runtime.open(world.path)
    engine = Engine(runtime)
    for step in steps:
        w.walk(engine, step)
    runtime.close()
    if pool is not None and after:
        time.sleep(1.1)
        world.add_users("late", after)
    return world
