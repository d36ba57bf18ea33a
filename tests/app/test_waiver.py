"""The waiver dialog names what it covers; production asks a reason per check and, for
the flip, the environment's name; the overview then shows the step as waived."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from runbook.audit.verify import read_records
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.overview import OverviewScreen
from screens.step import StepScreen
from screens.waiver import WaiverScreen
from tests.support import dnsworld as w
from tests.support.pilot import settle, type_text
from tests.support.runbooks import base_runbook, with_steps, write_runbook

SIZES = [(160, 48), (80, 24)]
TWO_FAILING: list[dict[str, Any]] = [
    {"id": "dns.ttl"},
    {"id": "codestar.connections", "params": {"required": ["gh"]}},
]


def flip_only(
    tmp_path: Path, environment: str, checks: list[dict[str, Any]]
) -> tuple[Path, Any, str]:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    book["migration"]["environment"] = environment
    return (
        write_runbook(tmp_path, with_steps(book, [{**book["steps"][2], "checks": checks}])),
        session,
        zone,
    )


def visible(app: RunbookApp, widget: Any) -> bool:
    """Wholly on screen (not clipped by the terminal's edge)."""
    region = widget.region
    return (
        region.height > 0
        and region.x >= 0
        and region.y >= 0
        and region.right <= app.size.width
        and region.bottom <= app.size.height
    )


async def open_waiver(pilot: Any, app: RunbookApp) -> WaiverScreen:
    await settle(pilot)
    await pilot.press("n")  # the flip is the only step
    await settle(pilot)
    assert isinstance(app.screen, StepScreen)
    assert app.engine is not None and app.engine.status("flip-dns") == StepStatus.BLOCKED
    await pilot.press("w")
    await pilot.pause()
    assert isinstance(app.screen, WaiverScreen)
    return app.screen


@pytest.mark.parametrize("size", SIZES)
async def test_production_waiver_of_the_flip_asks_per_check_and_the_environment(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path, session, zone = flip_only(tmp_path, "production", TWO_FAILING)
    app = build_app(path)
    async with app.run_test(size=size, notifications=False) as pilot:
        dialog = await open_waiver(pilot, app)
        what = str(dialog.query_one("#what", Static).render())
        assert "covers 2 failing blocking check(s)" in what
        assert "dns.ttl" in what and "codestar.connections" in what
        boxes = list(dialog.query(Input).results(Input))
        assert [b.id for b in boxes] == ["reason-0", "reason-1", "environment"]
        assert all(visible(app, b) for b in boxes[:1])  # the first field, at every size

        # One reason for both is not enough in production: Enter moves to the next field.
        await type_text(pilot, "CAB-1 ttl by hand")
        await pilot.press("enter")
        assert app.focused is boxes[1]
        await pilot.press("enter")  # the second is empty: refused, and it says why
        assert app.screen is dialog
        assert "for codestar.connections" in str(dialog.query_one("#help", Static).render())
        await type_text(pilot, "CAB-1 pipelines later")
        await pilot.press("enter")
        assert app.focused is boxes[2]
        dialog.query_one("#environment", Input).scroll_visible(animate=False)
        await pilot.pause()
        assert visible(app, boxes[2])
        await type_text(pilot, "prod")
        await pilot.press("enter")
        assert app.screen is dialog  # not the environment's name
        assert "exactly: production" in str(dialog.query_one("#help", Static).render())
        for _ in "prod":
            await pilot.press("backspace")
        await type_text(pilot, "production")
        await pilot.press("enter")
        await settle(pilot)
        assert app.engine is not None and app.engine.status("flip-dns") == StepStatus.WAIVED
    waived = [
        r
        for r in read_records(path.parent / ".runbook" / "audit.jsonl")
        if r["event"] == "gate.waived"
    ]
    assert len(waived) == 1 and waived[0]["details"]["environment_typed"] is True
    assert {c["check"]: c["reason"] for c in waived[0]["details"]["waived_checks"]} == {
        "dns.ttl": "CAB-1 ttl by hand",
        "codestar.connections": "CAB-1 pipelines later",
    }
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]


@pytest.mark.parametrize("size", SIZES)
async def test_rehearsal_waiver_is_one_reason_and_the_overview_shows_it_waived(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path, session, zone = flip_only(tmp_path, "rehearsal", TWO_FAILING)
    app = build_app(path)
    async with app.run_test(size=size, notifications=False) as pilot:
        dialog = await open_waiver(pilot, app)
        boxes = list(dialog.query(Input).results(Input))
        assert [b.id for b in boxes] == ["reason"] and visible(app, boxes[0])
        assert visible(app, dialog.query_one("#what", Static))
        await type_text(pilot, "rehearsal both")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
        await pilot.press("escape")
        await settle(pilot)
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        table = overview.query_one("#steps", DataTable)
        status = str(table.get_cell("flip-dns", "status"))
        note = str(table.get_cell("flip-dns", "note"))
        assert status == "✓ waived"  # not "done"
        assert note.startswith("done under a waiver (dns.ttl: rehearsal both; codestar.connections")
        # The status column is on screen at both sizes.
        assert table.region.right <= app.size.width
