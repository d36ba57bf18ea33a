"""The source owner's list on a screen: the same requests `runbook handoff` writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from textual.widgets import DataTable, Static

from runbook.audit.log import AuditLog
from runbook.handoff.build import build_handoff
from runbook.loader import load
from runbook.runtime import AUDIT_FILE
from screens.app import build_app
from screens.handoff import HandoffScreen
from tests.support.pilot import settle

BUNDLED = Path(__file__).resolve().parents[2] / "runbook.toml"


def bundled_without_profile(tmp_path: Path) -> Path:
    book = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
    book["accounts"]["target"].pop("profile", None)  # no such profile here
    path = tmp_path / "runbook.toml"
    path.write_text(tomli_w.dumps(book, multiline_strings=True), encoding="utf-8")
    return path


async def test_o_opens_the_handoff_with_the_latest_evidence(aws: None, tmp_path: Path) -> None:
    path = bundled_without_profile(tmp_path)
    state = tmp_path / ".runbook"
    state.mkdir()
    log = AuditLog(state / AUDIT_FILE, run_id="r0", environment="production", operator={})
    log.record(
        "check.result",
        step="replicate-database",
        check="dms.source_replica",
        status="pass",
        summary="DMS reads acme-db-replica, a read replica of acme-db",
        details=[],
        evidence={"engine": "mysql", "db": "acme-db-replica", "replica_of": "acme-db"},
    )
    log.close()
    app = build_app(path)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HandoffScreen)
        assert screen.handoff is not None
        # The same list as the command writes, from the same files.
        expected = build_handoff(load(path), app.runtime.registry, state / AUDIT_FILE)  # type: ignore[union-attr]
        assert [r.key for r in screen.handoff.requests] == [r.key for r in expected.requests]
        summary = str(screen.query_one("#handoff-summary", Static).render())
        assert f"{len(expected.requests)} changes" in summary
        table = screen.query_one("#handoff-list", DataTable)
        assert table.row_count == len(expected.requests)
        replica = [r.key for r in expected.requests].index("replica:acme-prod-full-load-cdc")
        row = table.get_row_at(replica)
        assert row[3] == "arn:aws:rds:eu-west-1:111111111111:db:acme-db-replica"
        assert str(row[5]) == "pass"  # the latest result in the audit log
        # The highlighted request's commands, as the document gives them.
        table.move_cursor(row=replica)
        await pilot.pause()
        detail = str(screen.query_one("#handoff-request", Static).render())
        assert expected.requests[replica].commands[0].cli() in detail
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HandoffScreen)


async def test_at_80_columns_the_latest_result_stays_on_screen(aws: None, tmp_path: Path) -> None:
    app = build_app(bundled_without_profile(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HandoffScreen) and screen.handoff is not None
        table = screen.query_one("#handoff-list", DataTable)
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert sum(widths) <= table.scrollable_content_region.width  # "latest" included
        assert str(table.get_row_at(0)[5]) == "not run"
