"""What every screen carries at 160x48 and at 80x24: the run header (production
band, region, every account, audit head), the DNS line, the footer's first keys,
and when each check last ran."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.color import Color
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer
from textual.widgets._footer import FooterKey

from runbook.dns.snapshot import Snapshot
from screens.app import RunbookApp, build_app
from screens.messages import RollbackProgressed
from tests.support import dnsworld as w
from tests.support.pilot import settle
from tests.support.runbooks import DNS, DNS_ROLE, REGION, SOURCE, TARGET, write_runbook

SIZES = [pytest.param((160, 48), id="160x48"), pytest.param((80, 24), id="80x24")]
WHERE = "app.example.com"


def production_world(tmp_path: Path, *, dns_account: bool = True) -> Path:
    """A production run whose zone lives in a third account, flip gated by dns.ttl."""
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book: dict[str, Any] = {
        "migration": {
            "name": "acme-saas: move production to the new account",
            "environment": "production",
        },
        "accounts": {
            "source": {
                "account_id": SOURCE,
                "region": REGION,
                "role_arn": f"arn:aws:iam::{SOURCE}:role/runbook-read",
                "external_id": "runbook-test",
            },
            "target": {"account_id": TARGET, "region": REGION},
        },
        "dns": {
            "account": "target",
            "zone_id": zone,
            "name": WHERE,
            "type": "A",
            "flip": w.FLIPS["simple"],
        },
        "steps": [
            {
                "id": "verify-accounts",
                "title": "Confirm which accounts we are talking to, before anything else",
                "phase": "prepare",
                "checks": [{"id": "identity.accounts"}],
                "action": {"kind": "none"},
            },
            {
                "id": "flip-dns",
                "title": "Flip DNS",
                "phase": "cutover",
                "checks": [{"id": "dns.ttl"}],
                "action": {"kind": "dns.flip"},
            },
        ],
    }
    if dns_account:
        book["accounts"]["dns"] = {"account_id": DNS, "region": REGION, "role_arn": DNS_ROLE}
    return write_runbook(tmp_path, book)


def is_red(color: Color | None) -> bool:
    """Production's red whatever the theme: a theme's colours never reach the band."""
    triplet = None if color is None else color.triplet
    return triplet is not None and triplet.red > 150 and max(triplet.green, triplet.blue) < 60


def header_lines(app: RunbookApp) -> list[str]:
    from screens.widgets import RunHeader

    return str(app.screen.query_one(RunHeader).render()).splitlines()


def visible_keys(app: RunbookApp) -> list[str]:
    """Binding ids of the footer keys drawn whole inside the screen, left to right."""
    width = app.size.width
    footer = app.screen.query_one(Footer)
    keys = [k for k in footer.query(FooterKey) if "-command-palette" not in k.classes]
    shown = [k for k in keys if k.region.width and k.region.right <= width]
    actions = {b.action: b.id for _k, b in _bindings(app)}
    return [actions.get(k.action, k.action) for k in sorted(shown, key=lambda k: k.region.x)]


def _bindings(app: RunbookApp) -> list[tuple[str, Any]]:
    return [(key, active.binding) for key, active in app.screen.active_bindings.items()]


async def visit(pilot: Pilot[Any], key: str | None) -> None:
    if key is not None:
        await pilot.press(key)
    await settle(pilot)


SCREENS = [
    ("overview", None, ["rollback", "open_step", "quit", "help"]),
    ("step", "enter", ["rollback", "do_action", "back", "quit", "help"]),
    ("review", "v", ["rollback", "review_back", "quit", "help"]),
    ("help", "question_mark", ["rollback", "help_close"]),
    ("handoff", "o", ["rollback", "handoff_back", "quit", "help"]),
]


@pytest.mark.parametrize("size", SIZES)
async def test_every_screen_shows_region_every_account_and_the_audit_head_unclipped(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        for name, key, _first in SCREENS:
            if name in ("review", "help", "handoff"):
                await visit(pilot, "escape")  # back to the step, then the next screen from there
            await visit(pilot, key)
            lines = header_lines(app)
            shown = "\n".join(lines)
            for wanted in (SOURCE, TARGET, DNS, REGION, app.audit_head(), "PROD"):
                assert wanted in shown, f"{name}: {wanted!r} missing from {shown!r}"
            assert all(cell_len(line) <= size[0] for line in lines), (name, lines)
            header = app.screen.query_one("RunHeader")
            assert header.region.width == size[0]  # a full-width band


@pytest.mark.parametrize("size", SIZES)
async def test_the_production_band_is_red_across_the_width_whatever_the_theme(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = build_app(production_world(tmp_path, dns_account=False))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        themes = sorted(app.available_themes)
        assert len(themes) > 5
        for theme in themes:
            app.theme = theme
            await pilot.pause()
            band = {app.screen.get_style_at(x, 0).bgcolor for x in (size[0] // 2, size[0] - 1)}
            assert len(band) == 1 and is_red(band.pop()), theme  # one colour, edge to edge
            badge = app.screen.get_style_at(1, 0)  # PRODUCTION, red on white
            assert is_red(badge.color), theme
            label = app.screen.get_style_at(3, 0)  # the text is drawn, not the band's colour
            assert label.color is not None and label.color != label.bgcolor, theme
            assert SOURCE in "\n".join(header_lines(app)), theme


@pytest.mark.parametrize("size", SIZES)
async def test_the_footer_shows_the_important_keys_first(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        for name, key, first in SCREENS:
            if name in ("review", "help", "handoff"):
                await visit(pilot, "escape")
            await visit(pilot, key)
            keys = visible_keys(app)
            assert keys[: len(first)] == first, f"{name}: footer starts {keys}"


@pytest.mark.parametrize("size", SIZES)
async def test_the_dns_line_is_on_every_screen_and_follows_the_flip(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        assert app.runtime is not None
        for name, key, _first in SCREENS:
            if name in ("review", "help", "handoff"):
                await visit(pilot, "escape")
            await visit(pilot, key)
            line = app.screen.query_one("DnsLine")
            assert line.region.width and line.region.bottom <= size[1], name
            text = str(line.render())
            assert f"{WHERE} A" in text and "source" in text, (name, text)
        # The flip happened (another shell's flip looks the same to the app).
        runtime = app.runtime
        snapshot = Snapshot(
            "Z1", WHERE + ".", "A", "target", {}, [w.simple()], datetime.now(UTC).isoformat()
        )
        snapshot.save(runtime.snapshot_path)
        runtime.state.dns.flipped_at = datetime.now(UTC)
        app.broadcast()
        await settle(pilot)
        text = str(app.screen.query_one("DnsLine").render())
        assert "flipped" in text and "target" in text and "203.0.113" in text, text
        # A rollback retrying against a dead endpoint shows each attempt as it goes.
        app.rollback_running = True
        app.post_message(RollbackProgressed(3, "retrying after EndpointConnectionError"))
        await pilot.pause()
        text = str(app.screen.query_one("DnsLine").render())
        assert "rolling back to the snapshot… attempt 3: retrying" in text, text


def _checked_cells(app: RunbookApp) -> list[str]:
    table = app.screen.query_one("#checks", DataTable)
    return [str(table.get_cell(row, "checked")) for row in table.rows]


@pytest.mark.parametrize("size", SIZES)
async def test_each_check_says_when_it_last_ran_and_ages_on_the_app_clock(
    aws: None, tmp_path: Path, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import screens.clock as clock

    now = [1000.0]
    monkeypatch.setattr(clock, "monotonic", lambda: now[0])
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=size, notifications=False) as pilot:
        await settle(pilot)
        await visit(pilot, "enter")
        assert _checked_cells(app) == ["0s ago"]
        now[0] += 4
        app.tick()  # what the app's one timer does each second
        await pilot.pause()
        assert _checked_cells(app) == ["4s ago"]
        now[0] += 120
        app.tick()
        await pilot.pause()
        assert _checked_cells(app) == ["2m 04s ago"]
        table = app.screen.query_one("#checks", DataTable)
        assert table.region.right <= size[0]


async def test_the_overview_status_column_is_whole_at_80_columns(aws: None, tmp_path: Path) -> None:
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=(80, 24), notifications=False) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#steps", DataTable)
        shown = ("phase", "step", "status", "took")
        right = sum(c.get_render_width(table) for k, c in table.columns.items() if k in shown)
        assert right <= 80 - 1, "phase, step, status and took fit beside each other"


async def test_the_review_timeline_fits_at_80_columns(aws: None, tmp_path: Path) -> None:
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=(80, 24), notifications=False) as pilot:
        await settle(pilot)
        await visit(pilot, "v")
        table = app.screen.query_one("#timeline", DataTable)
        assert table.row_count > 0
        width = sum(c.get_render_width(table) for c in table.columns.values())
        assert width <= 80 - 1, f"timeline columns take {width} cells"


async def test_help_fits_at_80_columns(aws: None, tmp_path: Path) -> None:
    app = build_app(production_world(tmp_path))
    async with app.run_test(size=(80, 24), notifications=False) as pilot:
        await settle(pilot)
        await visit(pilot, "question_mark")
        dialog = app.screen.query_one("#dialog")
        assert dialog.region.right <= 80 and dialog.region.x >= 0
        table = app.screen.query_one("#keys", DataTable)
        assert table.region.right <= 80
