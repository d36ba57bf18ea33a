"""cognito.migration_window: the force-migration gate waits for the window after the flip.

Pools from conftest: 7 source users, 4 of them already in the target (57 %).
"""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from checks.cognito.migration_window import MigrationWindowParams
from runbook.audit.log import AuditLog
from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.runtime import AUDIT_FILE
from runbook.state import DnsState, RunState
from tests.support.checks import result_text, run_check
from tests.support.cognitoworld import World

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BUNDLED = Path(__file__).resolve().parents[3] / "runbook.toml"


def context(world: World, tmp_path: Path, dns: DnsState | None = None) -> CheckContext:
    state = RunState(dns=dns) if dns is not None else None
    return dataclasses.replace(world.ctx, state=state, state_dir=tmp_path, now=lambda: NOW)


def window(ctx: CheckContext, **params: Any) -> CheckResult:
    params.setdefault("requests_per_second", 50)
    return run_check(ctx, "cognito.migration_window", params)


def flipped(days_ago: float) -> DnsState:
    return DnsState(flipped_at=NOW - timedelta(days=days_ago))


def test_fails_before_the_flip_whatever_the_share(world: World, tmp_path: Path) -> None:
    # The false pass: before this check, the force-migrate gate passed before the flip.
    ctx = context(world, tmp_path)
    for params in ({}, {"require": "either", "min_migrated_percent": 50, "window_days": 0}):
        result = window(ctx, **params)
        assert result.status == Status.FAIL, result
        assert "DNS has not been flipped" in result.summary
        assert "flipped_at" in result_text(result)  # how to declare a flip made by hand
    assert window(context(world, tmp_path, DnsState()), window_days=0).status == Status.FAIL


def test_counts_down_the_window_after_the_flip(world: World, tmp_path: Path) -> None:
    result = window(context(world, tmp_path, flipped(3)), min_migrated_percent=50)
    assert result.status == Status.FAIL, result
    # 39 days to go; the share is already enough, the window is not.
    assert result.summary == (
        "window ends in 39d 0h, at 2026-07-10 12:00:00 UTC; 57% migrated (4/7), at or above 50%"
    )
    ev = result.evidence
    assert ev["window_remaining_s"] == 39 * 86400 and ev["window_ends_at"].startswith("2026-07-10")
    assert ev["flipped_at_source"] == "run state" and ev["window_over"] is False


def test_both_needs_the_window_and_the_share(world: World, tmp_path: Path) -> None:
    ctx = context(world, tmp_path, flipped(43))
    low = window(ctx, min_migrated_percent=92)
    assert low.status == Status.FAIL, low
    assert low.summary.endswith("57% migrated (4/7), below 92%")
    assert "window of 42 days over since 2026-05-31 12:00:00 UTC" in low.summary
    assert any("keep the trigger running" in d for d in low.details)
    assert any("3 source users not yet in the target" in d for d in low.details)
    ok = window(ctx, min_migrated_percent=50)
    assert ok.status == Status.PASS, ok
    assert ok.evidence["migrated_percent"] == 57.1


def test_either_passes_on_whichever_comes_first(world: World, tmp_path: Path) -> None:
    over = window(context(world, tmp_path, flipped(43)), require="either")
    assert over.status == Status.PASS, over  # window over, share 57 % < 92 %
    early = context(world, tmp_path, flipped(1))
    assert window(early, require="either").status == Status.FAIL
    share = window(early, require="either", min_migrated_percent=50)
    assert share.status == Status.PASS, share
    assert "window ends in" in share.summary


def test_either_with_no_share_is_refused() -> None:
    with pytest.raises(ValidationError, match="min_migrated_percent above 0"):
        MigrationWindowParams(require="either", min_migrated_percent=0)


def test_no_share_asked_lists_no_users(world: World, tmp_path: Path) -> None:
    calls: list[str] = []
    events = world.ctx.client("source", "cognito-idp").meta.events
    events.register(
        "before-call.cognito-idp",
        lambda model, **_: calls.append(model.name),
        unique_id="count-calls",
    )
    try:
        ctx = context(world, tmp_path, flipped(0.5))
        result = window(ctx, window_days=0.25, min_migrated_percent=0)
    finally:
        events.unregister("before-call.cognito-idp", unique_id="count-calls")
    assert result.status == Status.PASS, result
    assert result.summary == "window of 0.25 days over since 2026-06-01 06:00:00 UTC"
    assert calls == []


def test_a_confirmed_rollback_restarts_the_window(world: World, tmp_path: Path) -> None:
    dns = DnsState(rolled_back_at=NOW - timedelta(days=2), rollback_confirmed=True)
    result = window(context(world, tmp_path, dns), window_days=0, min_migrated_percent=0)
    assert result.status == Status.FAIL, result
    assert "rolled back at 2026-05-30 12:00:00 UTC and not flipped since" in result.summary
    # Flipped again after it: counts from the new flip.
    again = DnsState(
        flipped_at=NOW - timedelta(days=1), rolled_back_at=None, rollback_confirmed=None
    )
    result = window(context(world, tmp_path, again), min_migrated_percent=0)
    assert result.summary.startswith("window ends in 41d 0h")


def test_an_unconfirmed_rollback_is_not_a_flip(world: World, tmp_path: Path) -> None:
    dns = DnsState(
        flipped_at=NOW - timedelta(days=50),
        rolled_back_at=NOW - timedelta(days=1),
        rollback_confirmed=False,
    )
    result = window(context(world, tmp_path, dns), min_migrated_percent=0)
    assert result.status == Status.FAIL, result
    assert "was not confirmed" in result.summary


def audit(tmp_path: Path, at: datetime) -> AuditLog:
    return AuditLog(
        tmp_path / AUDIT_FILE, run_id="r1", environment="rehearsal", operator={}, clock=lambda: at
    )


def test_the_audit_log_is_the_fallback(world: World, tmp_path: Path) -> None:
    log = audit(tmp_path, NOW - timedelta(days=50))
    log.record("action.outcome", step="lower-ttl", ok=True, lowered_at="x")
    log.record("action.outcome", step="flip-dns", ok=False, summary="refused")
    assert window(context(world, tmp_path), min_migrated_percent=0).status == Status.FAIL
    log.record("action.outcome", step="flip-dns", ok=True, summary="flipped")
    log.close()
    result = window(context(world, tmp_path), min_migrated_percent=0)
    assert result.status == Status.PASS, result
    assert result.evidence["flipped_at_source"] == "audit log record 3 (flip-dns)"

    later = audit(tmp_path, NOW - timedelta(days=1))
    later.record("rollback.outcome", confirmed=True, summary="rolled back")
    later.close()
    rolled = window(context(world, tmp_path), min_migrated_percent=0)
    assert rolled.status == Status.FAIL and "rolled back" in rolled.summary


def test_a_declared_flip_overrides_and_must_be_past(world: World, tmp_path: Path) -> None:
    ctx = context(world, tmp_path)
    declared = window(ctx, flipped_at="2026-04-01T00:00:00Z", min_migrated_percent=0)
    assert declared.status == Status.PASS, declared
    assert declared.evidence["flipped_at_source"] == "check parameter"
    future = window(ctx, flipped_at="2026-07-01T00:00:00Z", min_migrated_percent=0)
    assert future.status == Status.FAIL and "in the future" in future.summary


def test_an_unknown_share_fails(world: World, tmp_path: Path) -> None:
    empty = world.source.create_user_pool(PoolName="empty")["UserPool"]["Id"]
    try:
        result = window(context(world, tmp_path, flipped(50)), source_user_pool_id=empty)
    finally:
        world.source.delete_user_pool(UserPoolId=empty)
    assert result.status == Status.FAIL, result
    assert "share migrated unknown" in result.summary and "no users" in result.summary


def test_the_bundled_force_migration_gate_waits_for_the_seeds_window() -> None:
    # The playbook: users moved over six weeks; 92 % had moved by the window's end.
    book = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    step = next(s for s in book["steps"] if s["id"] == "force-migrate-users")
    checks = {c["id"]: c.get("params", {}) for c in step["checks"]}
    assert checks["cognito.migration_window"] == {
        "window_days": 42,
        "min_migrated_percent": 92,
        "require": "both",
    }
