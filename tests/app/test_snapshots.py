"""SVG snapshots of the four screens a reviewer should recognise.

Made deterministic: fixed size, fixed directory, run id, operator and clock;
the header's audit hash (which covers check durations) is masked; no cursor
blink is on screen.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion

from runbook.audit.log import AuditLog
from runbook.runtime import Runtime
from screens.app import RunbookApp, build_app
from tests.support.pilot import settle
from tests.support.runbooks import base_runbook, write_runbook

SIZE = (110, 34)
FIXED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


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
    yield path
    shutil.rmtree(path, ignore_errors=True)


def open_world(directory: Path, **account_ids: str) -> Runtime:
    book = base_runbook()
    book["steps"][2]["checks"] = [{"id": "dns.ttl"}]
    for name, account_id in account_ids.items():
        book["accounts"][name]["account_id"] = account_id
    path = write_runbook(directory, book)
    state = directory / ".runbook"
    state.mkdir()
    (state / "state.json").write_text(
        json.dumps({"run_id": "snap0001", "created_at": FIXED.isoformat()})
    )
    return Runtime.open(path, clock=lambda: FIXED)


def normalised(app: RunbookApp) -> str:
    return app.export_screenshot()


async def test_overview(aws: None, fixed_dir: Path, svg: SnapshotAssertion) -> None:
    app = build_app(runtime=open_world(fixed_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert normalised(app) == svg


async def test_step_with_failed_gate(aws: None, fixed_dir: Path, svg: SnapshotAssertion) -> None:
    app = build_app(runtime=open_world(fixed_dir, target="222222222222"))
    async with app.run_test(size=SIZE, notifications=False) as pilot:
        await settle(pilot)
        app.clear_notifications()
        await pilot.press("enter")
        await settle(pilot)
        assert normalised(app) == svg


async def test_rollback_confirmation(aws: None, fixed_dir: Path, svg: SnapshotAssertion) -> None:
    runtime = open_world(fixed_dir)
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
    runtime.state.dns.flipped_at = FIXED
    app = build_app(runtime=runtime)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert normalised(app) == svg


async def test_review(fixed_dir: Path, svg: SnapshotAssertion) -> None:
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
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert normalised(app) == svg
