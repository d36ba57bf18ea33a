"""Finding things: `/` on the overview, the review and the help; routine records hidden
with one key; every key named as the footer names it; a palette of the run's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from runbook.engine import Engine
from runbook.runtime import Runtime
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.help import HelpScreen, all_bindings
from screens.overview import OverviewScreen
from screens.review import ROUTINE_EVENTS, ReviewScreen
from screens.search import SearchBar
from screens.step import StepScreen
from tests.support.pilot import settle, small_world, type_text
from tests.support.waitworld import until

SIZES = [(160, 48), (80, 24)]


def rows(app: RunbookApp, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(table_id, DataTable)
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


def row_keys(app: RunbookApp, table_id: str) -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


async def search(pilot: Pilot[Any], text: str) -> None:
    await pilot.press("slash")
    await pilot.pause()
    assert pilot.app.screen.query_one(SearchBar).has_class("-open")
    await type_text(pilot, text)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_slash_filters_the_overview_and_enter_opens_the_match(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert row_keys(app, "#steps") == ["verify-accounts", "lower-ttl", "flip-dns"]
        await search(pilot, "flip")
        assert row_keys(app, "#steps") == ["flip-dns"]
        # What is typed stays visible while the box has focus (no focus border eats the row).
        box = app.screen.query_one(SearchBar).query_one(Input)
        assert box.has_focus and box.content_region.height == 1
        assert "flip" in "".join(s.text for s in box.render_line(0))
        await pilot.press("enter")  # keeps the filter, the list takes the keys back
        await pilot.pause()
        assert row_keys(app, "#steps") == ["flip-dns"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "flip-dns"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("slash")
        await pilot.press("escape")  # clears the search and closes the bar
        await pilot.pause()
        assert row_keys(app, "#steps") == ["verify-accounts", "lower-ttl", "flip-dns"]
        assert not app.screen.query_one(SearchBar).has_class("-open")
        assert isinstance(app.screen, OverviewScreen)  # escape closed the bar, nothing else


def walked_log(tmp_path: Path) -> Path:
    """The audit log of a real run: the identity gate passed and its step done."""
    path, _zone, _session = small_world(tmp_path)
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    assert engine.run_gate("verify-accounts").passed
    assert engine.do("verify-accounts").ok
    engine.run_gate("flip-dns")
    runtime.close()
    return runtime.audit.path


@pytest.mark.parametrize("size", SIZES)
async def test_the_review_filters_by_text_and_hides_routine_records(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    log = walked_log(tmp_path)
    app = build_app(review_path=log)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: bool(rows(app, "#timeline")), "the log loaded")
        assert isinstance(app.screen, ReviewScreen)
        everything = rows(app, "#timeline")
        events = {row[3] for row in everything}
        assert {"check.result", "action.intent", "action.outcome"} <= events

        await search(pilot, "flip-dns dns.ttl")  # every word, in any field of the line
        found = rows(app, "#timeline")
        assert found and all("flip-dns" in r[2] and "dns.ttl" in r[4] for r in found)
        await pilot.press("escape")
        await pilot.pause()
        assert rows(app, "#timeline") == everything

        await pilot.press("h")
        await pilot.pause()
        decisions = rows(app, "#timeline")
        assert decisions and not {r[3] for r in decisions} & ROUTINE_EVENTS
        assert {"action.intent", "action.outcome", "gate.finished"} <= {r[3] for r in decisions}
        await pilot.press("h")
        await pilot.pause()
        assert rows(app, "#timeline") == everything


@pytest.mark.parametrize("size", SIZES)
async def test_help_names_keys_as_the_footer_does_and_cuts_nothing(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        listed = rows(app, "#keys")
        by_id = {r[2]: r for r in listed}
        assert by_id["help"][1] == "?, f1"
        assert by_id["search"][1] == "/"
        assert by_id["quit"][1] == "q, ^c"
        assert not any("question_mark" in r[1] or "slash" in r[1] for r in listed)
        palette = next(r for r in listed if r[1] == "^p")
        assert "open a step" in palette[3]
        # Every binding is listed with its whole description: wrapped, never clipped.
        for _where, binding in all_bindings(RunbookApp):
            assert binding.tooltip in {r[3] for r in listed}, binding.id
        table = app.screen.query_one("#keys", DataTable)
        assert table.max_scroll_x == 0  # nothing to scroll sideways to
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert sum(widths) <= table.scrollable_content_region.width
        # The end of the list can be scrolled to: the last row's last word is on screen.
        await pilot.press("ctrl+end")  # the table's "bottom" key
        await settle(pilot)
        last_word = listed[-1][3].split()[-1].strip(".,)")
        assert last_word in app.export_screenshot(), listed[-1]

        await search(pilot, "roll")
        found = rows(app, "#keys")
        assert found and len(found) < len(listed)
        assert all("roll" in " ".join(r).lower() for r in found)
        await pilot.press("escape")  # clears the search; a second escape closes the help
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and len(rows(app, "#keys")) == len(listed)


async def test_the_palette_offers_the_run_commands_and_no_developer_tools(
    aws: None, tmp_path: Path
) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=SIZES[1]) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in (
            "Step: Verify accounts",
            "Run checks: Verify accounts",
            "Roll back DNS",
            "Audit review",
            "Source owner's changes",
            "Help: every key",
            "Quit",
        ):
            assert expected in titles
        for developer in ("Keys", "Screenshot", "Maximize", "Minimize"):
            assert developer not in titles
        assert not any(t.startswith("Do: ") for t in titles)  # no gate has passed yet

        app.run_gate("verify-accounts")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert [t for t in titles if t.startswith("Do: ")] == ["Do: Mark done (Verify accounts)"]
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Do: ")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "verify-accounts"
        assert app.engine is not None
        assert app.engine.status("verify-accounts") == StepStatus.DONE
