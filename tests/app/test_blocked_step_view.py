"""A blocked step at 80x24 opens at its top, and says beside its action why it waits.

Focusing the checks table scrolled long instructions up past the title, which is
where the step said why it was blocked; the action's button was greyed, and `a`
did nothing, with no word on screen as to why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from screens.app import build_app
from screens.step import StepScreen
from tests.support import dnsworld as w
from tests.support.pilot import settle
from tests.support.runbooks import base_runbook, write_runbook

LONG = "\n\n".join(
    f"{n}. A paragraph of what to check by hand before this step." for n in range(30)
)


def zoned_runbook() -> dict[str, Any]:
    """The small runbook, its zone made in the target with the record to flip."""
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    return base_runbook(zone_id=zone, flip=w.FLIPS["simple"])


async def test_a_blocked_step_opens_at_its_title_and_says_why_by_its_action(
    aws: None, tmp_path: Path
) -> None:
    book = zoned_runbook()
    book["steps"][2]["instructions"] = LONG
    book["steps"][2]["checks"] = [{"id": "dns.ttl"}]
    app = build_app(write_runbook(tmp_path, book))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_step("flip-dns")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen) and screen.step_id == "flip-dns"
        body = screen.query_one("#body", VerticalScroll)
        assert body.max_scroll_y > 0  # the instructions do not fit: the fold is real
        assert body.scroll_y == 0  # opened at the title, not scrolled to the table
        assert screen.query_one("#checks").has_focus
        why = str(screen.query_one("#why-not", Static).render())
        assert why == "Not yet: step 'verify-accounts' must be done first", why
        assert screen.query_one("#act", Button).disabled
        assert screen.query_one("#why-not").region.bottom <= 24  # on screen
        app.open_step("verify-accounts")
        await settle(pilot)
        assert not app.screen.query_one("#why-not", Static).display  # it may act


async def test_beside_a_long_button_the_reason_keeps_its_own_line(
    aws: None, tmp_path: Path
) -> None:
    """A manual step's button names what to confirm: at 80 columns a reason beside it was
    squeezed into one column, and the screen jumped between two scroll positions."""
    book = zoned_runbook()
    confirm = "Pipelines, image URIs and alarm topics point at the target account now"
    book["steps"][1] = {
        "id": "repoint",
        "title": "Re-point pipelines",
        "phase": "cicd",
        "instructions": LONG,
        "action": {"kind": "manual", "confirm": confirm},
    }
    app = build_app(write_runbook(tmp_path, book))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_step("repoint")
        await settle(pilot)
        screen = app.screen
        why = screen.query_one("#why-not", Static)
        assert why.region.width >= 60 and why.region.height <= 2, why.region
        body = screen.query_one("#body", VerticalScroll)
        first = body.scroll_y
        for _ in range(3):  # nothing moves while nobody presses anything
            await pilot.pause(0.4)
            assert body.scroll_y == first == 0
