"""cognito.migration_progress against pools in two moto accounts; its request pacer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checks.cognito.migration_progress import Pacer
from runbook.aws.session import SessionFactory
from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.model import Runbook
from tests.support.checks import run_check
from tests.support.cognitoworld import World, add_user
from tests.support.runbooks import base_runbook


def progress(world: World, **params: Any) -> CheckResult:
    params.setdefault("requests_per_second", 50)
    return run_check(world.ctx, "cognito.migration_progress", params)


def test_progress_warns_below_the_threshold(world: World) -> None:
    result = progress(world, match_email=False)
    assert result.status == Status.WARN, result
    assert result.summary == "57% migrated (4/7); 2 TOTP users will need to re-register"
    ev = result.evidence
    assert (ev["source_users"], ev["target_users"], ev["migrated"], ev["not_migrated"]) == (
        7,
        4,
        4,
        3,
    )
    assert ev["totp_users_not_migrated"] == 2 and ev["mfa_checked"] == 3


def test_progress_passes_at_or_above_the_threshold(world: World) -> None:
    result = progress(world, min_migrated_percent=50)
    assert result.status == Status.PASS, result
    assert result.summary.startswith("57% migrated (4/7)")


def test_progress_matches_email_case_insensitively(world: World) -> None:
    # A pool with generated usernames: same person, new username, email in other case.
    world.add_target_user("9f1c-generated", "user6@EXAMPLE.com")
    assert progress(world, match_email=False).evidence["migrated"] == 4
    result = progress(world, match_email=True)
    assert result.evidence["migrated"] == 5 and result.evidence["matched_by_email"] == 1
    assert result.summary == "71% migrated (5/7); 2 TOTP users will need to re-register"
    # Default: the runbook's cognito.case_insensitive_emails (true).
    assert progress(world).evidence["migrated"] == 5


def test_progress_caps_mfa_lookups(world: World) -> None:
    result = progress(world, max_mfa_lookups=1, match_email=False)
    assert result.evidence["mfa_checked"] == 1
    assert any("TOTP count is a floor" in line for line in result.details)
    assert progress(world, mfa_time_budget_s=0).evidence["mfa_checked"] == 0
    skipped = progress(world, check_totp=False)
    assert "TOTP" not in skipped.summary and "mfa_checked" not in skipped.evidence


def test_progress_lists_in_pages_of_sixty(world: World) -> None:
    source_pool = world.source.create_user_pool(PoolName="bulk")["UserPool"]["Id"]
    target_pool = world.target.create_user_pool(PoolName="bulk")["UserPool"]["Id"]
    for i in range(130):
        add_user(world.source, source_pool, f"bulk{i:03d}")
    for i in range(125):
        add_user(world.target, target_pool, f"bulk{i:03d}")
    limits: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        limits.append(params.get("Limit", 0))

    # The check's own (guarded) source client, as the factory caches it.
    events = world.ctx.client("source", "cognito-idp").meta.events
    events.register("provide-client-params.cognito-idp.ListUsers", record, unique_id="t")
    try:
        result = progress(
            world,
            source_user_pool_id=source_pool,
            target_user_pool_id=target_pool,
            min_migrated_percent=95,
        )
    finally:
        events.unregister("provide-client-params.cognito-idp.ListUsers", unique_id="t")
    assert result.status == Status.PASS, result
    assert result.summary == "96% migrated (125/130); 0 TOTP users will need to re-register"
    assert limits == [60, 60, 60]


def test_an_empty_source_pool_is_nothing_to_judge_not_a_pass(world: World) -> None:
    empty = world.source.create_user_pool(PoolName="empty")["UserPool"]["Id"]
    result = progress(world, source_user_pool_id=empty, min_migrated_percent=0)
    assert result.status == Status.WARN, result
    assert result.summary == (
        f"source pool {empty} has no users: nothing to migrate; check the pool ID"
    )
    assert result.evidence["source_users"] == 0
    assert "percent" not in result.evidence  # no 100% invented from nothing
    # The target has users: the IDs may be swapped or point at the wrong pool.
    assert any("target pool" in line and "has" in line for line in result.details)


def test_progress_unknown_pool_fails(world: World) -> None:
    result = progress(world, source_user_pool_id="us-east-1_Nope")
    assert result.status == Status.FAIL
    assert result.summary == "source user pool us-east-1_Nope not found"
    result = progress(world, target_user_pool_id="us-east-1_Nope")
    assert result.status == Status.FAIL
    assert result.summary == "target user pool us-east-1_Nope not found"


def test_progress_without_pools_is_an_error(tmp_path: Path) -> None:
    model = Runbook.model_validate(base_runbook())
    ctx = CheckContext(runbook=model, sessions=SessionFactory(model.accounts), state_dir=tmp_path)
    result = run_check(ctx, "cognito.migration_progress")
    assert result.status == Status.ERROR
    assert result.summary == "no user pools configured"


def test_pacer_spaces_calls_without_delaying_the_first() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    pacer.wait()
    pacer.wait()
    now[0] += 1.0  # work that took longer than the interval: no wait
    pacer.wait()
    pacer.wait()
    assert slept == [0.25, 0.25]
