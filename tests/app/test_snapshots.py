"""SVG snapshots of the four screens a reviewer should recognise.

Each at 160x48 and at 80x24. Made deterministic: fixed directory, run id,
operator and clocks (the run's, the DNS line's and the check ages'); the
header's audit hash (which covers check durations) is masked; no cursor blink
is on screen.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion

import runbook.dns.aftermath
import screens.clock
import screens.dnsline
from runbook.audit.log import AuditLog
from runbook.runtime import Runtime
from screens.app import RunbookApp, build_app
from tests.support.pilot import settle
from tests.support.runbooks import DNS, DNS_ROLE, REGION, base_runbook, write_runbook

FIXED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


class FixedNow(datetime):
    """`datetime` whose now() is FIXED, for code that asks the wall clock itself."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> FixedNow:
        return cls.fromtimestamp(FIXED.timestamp(), tz)


@pytest.fixture(params=[(160, 48), (80, 24)], ids=["160x48", "80x24"])
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    return request.param


@pytest.fixture
def svg(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(SVGImageExtension)


@pytest.fixture
def fixed_dir(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The same absolute path on every machine: it shows on screen."""
    path = Path("/tmp/runbook-snapshots") / request.node.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    monkeypatch.setenv("RUNBOOK_OPERATOR", "ops@jumphost")
    monkeypatch.setattr(RunbookApp, "audit_head", lambda self: "#n (hash masked)")
    monkeypatch.setattr(screens.dnsline, "utcnow", lambda: FIXED)
    monkeypatch.setattr(screens.clock, "monotonic", lambda: 1000.0)
    monkeypatch.setattr(runbook.dns.aftermath, "datetime", FixedNow)  # "flipped … ago"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def open_world(
    directory: Path,
    dns: dict[str, str] | None = None,
    book: dict[str, Any] | None = None,
    **account_ids: str,
) -> Runtime:
    book = book or base_runbook()
    book["steps"][2]["checks"] = [{"id": "dns.ttl"}]
    for name, account_id in account_ids.items():
        book["accounts"][name]["account_id"] = account_id
    path = write_runbook(directory, book)
    state = directory / ".runbook"
    state.mkdir()
    (state / "state.json").write_text(
        json.dumps({"run_id": "snap0001", "created_at": FIXED.isoformat(), "dns": dns or {}})
    )
    return Runtime.open(path, clock=lambda: FIXED)


def normalised(app: RunbookApp) -> str:
    return app.export_screenshot()


async def test_overview(
    aws: None, fixed_dir: Path, svg: SnapshotAssertion, size: tuple[int, int]
) -> None:
    app = build_app(runtime=open_world(fixed_dir))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert normalised(app) == svg


async def test_production_with_a_dns_account(
    aws: None, fixed_dir: Path, svg: SnapshotAssertion, size: tuple[int, int]
) -> None:
    """The red band, every account and the region, at both sizes (the title gives way)."""
    book = base_runbook()
    book["migration"] = {
        "name": "acme-saas: move production to the new account",
        "environment": "production",
    }
    book["accounts"]["dns"] = {"account_id": DNS, "region": REGION, "role_arn": DNS_ROLE}
    app = build_app(runtime=open_world(fixed_dir, book=book))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        assert normalised(app) == svg


async def test_step_with_failed_gate(
    aws: None, fixed_dir: Path, svg: SnapshotAssertion, size: tuple[int, int]
) -> None:
    app = build_app(runtime=open_world(fixed_dir, target="222222222222"))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        app.clear_notifications()
        await pilot.press("enter")
        await settle(pilot)
        assert normalised(app) == svg


async def test_rollback_confirmation(
    aws: None, fixed_dir: Path, svg: SnapshotAssertion, size: tuple[int, int]
) -> None:
    runtime = open_world(fixed_dir, dns={"flipped_at": FIXED.isoformat()})  # as the flip left it
    snapshot: dict[str, Any] = {
        "zone_id": "Z0000000000000000TEST",
        "name": "app.example.com.",
        "type": "A",
        "account_name": "target",
        "account": {"account_id": "123456789012", "region": "us-east-1"},
        "record_sets": [
            {
                "Name": "app.example.com.",
                "Type": "A",
                "TTL": 30,
                "ResourceRecords": [{"Value": "198.51.100.7"}],
            }
        ],
        "taken_at": FIXED.isoformat(),
    }
    runtime.snapshot_path.write_text(json.dumps(snapshot))
    app = build_app(runtime=runtime)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert normalised(app) == svg


async def test_review(fixed_dir: Path, svg: SnapshotAssertion, size: tuple[int, int]) -> None:
    log = fixed_dir / "audit.jsonl"
    audit = AuditLog(
        log, run_id="snap0001", environment="production", operator={"u": "ops"}, clock=lambda: FIXED
    )
    audit.record("run.started", migration="acme move")
    audit.record("gate.started", step="flip-dns", checks=["dns.ttl"])
    audit.record(
        "check.result", step="flip-dns", check="dns.ttl", status="fail", summary="TTL still 300s"
    )
    audit.record("gate.waived", step="flip-dns", reason="rehearsal")
    audit.record("action.intent", step="flip-dns", kind="dns.flip")
    audit.record("action.outcome", step="flip-dns", ok=True, summary="flipped")
    audit.close()
    app = build_app(review_path=log)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert normalised(app) == svg
