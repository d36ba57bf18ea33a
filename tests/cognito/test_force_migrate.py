"""Force-migration against pools in two moto accounts: exactly once, across a kill, dry run.

The source is always reached through the session factory's guarded client, so
every test also shows that force-migration only reads the source.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records
from runbook.aws.session import SessionFactory
from runbook.cognito.force_migrate import PAGE_SIZE, ForceMigrationError
from runbook.cognito.journal import CHECKPOINT_FILE, MAP_FILE
from runbook.cognito.report import ForceMigrationReport
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support.cognito_pools import (
    Pools,
    all_users,
    assert_migrated_exactly_once,
    index_of,
    make_pools,
    members,
    pre_migrate,
    read_map,
    refusal,
    run,
    seed,
)
from tests.support.runbooks import base_runbook, write_runbook

# --- many pages of users -----------------------------------------------------------------

# moto finds a user of an email-as-username pool by scanning every user, so each
# request costs O(users) and a run O(users^2): 2,000 users take three minutes.
# The suite migrates 250 (four full ListUsers pages of 60 and a short fifth, with
# already-migrated users on every page, and every attribute case at least twice);
# RUNBOOK_SCALE_TESTS=1 runs the same test at the few thousand issue 13 judges.
SCALE = os.environ.get("RUNBOOK_SCALE_TESTS") == "1"


@pytest.mark.parametrize(
    "count",
    [
        250,
        pytest.param(
            2000,
            marks=[
                pytest.mark.long,
                pytest.mark.skipif(not SCALE, reason="a few thousand: RUNBOOK_SCALE_TESTS=1"),
            ],
        ),
    ],
)
def test_pages_of_users_into_a_target_that_already_holds_some(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path, count: int
) -> None:
    # Both pools take an email as the username (the demo's, and the console's default):
    # each user is created under its email and the target names it with a new UUID.
    pre = range(0, count, 10)
    assert count // PAGE_SIZE >= 4  # several pages, the last one short
    pools = make_pools(admin, email_username=True)
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
        workers=1,  # in-process moto iterates an email pool's users unlocked
    )
    assert report.finished and report.counts.failed == 0, report.failures
    assert json.loads((tmp_path / CHECKPOINT_FILE).read_text())["page"] == -(-count // PAGE_SIZE)
    assert report.counts.created == count - len(pre)
    assert report.counts.existing == len(pre)
    created = [i for i in range(count) if i not in pre]
    assert report.counts.phone_unfixable == sum(1 for i in created if i % 11 == 0 and i % 5)
    # Disabled users (i % 13 == 0) are sent nothing, so they are in neither count.
    assert report.counts.no_verified_contact == sum(1 for i in created if i % 7 == 0 and i % 13)
    assert report.counts.reset_required == sum(1 for i in created if i % 7 and i % 13)
    assert report.counts.disabled == sum(1 for i in created if i % 13 == 0)
    assert_migrated_exactly_once(pools, tmp_path, count, pre)
    index = {u["Username"]: index_of(u) for u in all_users(pools.source, pools.source_pool)}
    phones = (tmp_path / "cognito-phone-unfixable.txt").read_text().split()
    assert sorted(index[p] for p in phones) == [i for i in created if i % 11 == 0 and i % 5]
    assert progress[-1][0] == 1.0 and len(progress) > count / 2
    assert not any("failed" in text and "0 failed" not in text for _f, text in progress[:-1])
    assert [e for e, _ in audit] == [
        "cognito.force_migrate.sender",
        "cognito.force_migrate.started",
        "cognito.force_migrate.summary",
    ]


@pytest.mark.long
def test_killed_half_way_and_restarted_finishes_without_duplicates(
    moto_server: str, admin: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="werkzeug")  # a line per request otherwise
    count, pre = 300, range(0, 300, 25)
    pools = make_pools(admin, email_username=True)
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
                "1",  # one worker: moto's server iterates an email pool's users unlocked
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
