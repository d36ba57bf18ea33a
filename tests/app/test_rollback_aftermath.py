"""The rollback dialog says what a rollback does not undo; after it the run goes back; a
question whose premise a rollback changed closes, saying why. moto's server, real pilots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from runbook.engine import Engine
from runbook.runtime import Runtime
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.overview import OverviewScreen
from screens.step import StepScreen
from tests.support import dnsworld as w
from tests.support.pilot import settle, shell, within
from tests.support.rollbackworld import REENABLE, WATCH, flipped_world

SIZES = [(160, 48), (80, 24)]


def dialog_text(app: RunbookApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return "\n".join(str(s.render()) for s in screen.query(Static) if s.id != "buttons")


def notes_of(app: RunbookApp) -> list[str]:
    """Every notification the app raises, as the operator reads it (title and text)."""
    seen: list[str] = []
    original = app.notify

    def recording(message: str, **kwargs: Any) -> None:
        seen.append(f"{kwargs.get('title', '')}: {message}")
        original(message, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("size", SIZES)
async def test_the_rollback_dialog_says_what_it_does_not_undo(
    moto_server: str, tmp_path: Path, size: tuple[int, int]
) -> None:
    world = flipped_world(tmp_path, before=2, after=3)
    app = build_app(world.path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.runtime is not None and app.engine is not None
        notes = notes_of(app)
        flipped_at = app.runtime.state.dns.flipped_at
        assert flipped_at is not None and app.engine.status(WATCH) == StepStatus.DONE

        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        text = dialog_text(app)
        assert "A rollback does not undo:" in text
        assert "the source database is still read-only" in text and f"step {REENABLE}" in text
        assert "since the flip (" in text and f"at {flipped_at:%Y-%m-%d %H:%M:%S}Z)" in text
        # The count comes from the target pool, in a worker, while the dialog is open.
        counted = "- 3 users created or changed in the target pool since the flip"
        assert await within(pilot, 20, lambda: counted in dialog_text(app)), dialog_text(app)

        await pilot.press("y")
        await settle(pilot)
        assert await within(pilot, 20, lambda: app.last_rollback is not None)
        assert app.last_rollback is not None and app.last_rollback.confirmed
        await settle(pilot)

        # The outcome says it again; the run is back at the source owner's step.
        said = next(n for n in notes if n.startswith("What the rollback did not undo"))
        assert "still read-only" in said and "3 users created or changed" in said
        assert isinstance(app.screen, OverviewScreen)
        banner = str(app.screen.query_one("#banner", Static).render())
        title = app.runtime.model.step(REENABLE).title
        assert f"next: {title}" in banner
        assert app.engine.current_step() == REENABLE
        assert app.engine.status(WATCH) == StepStatus.PENDING
        assert app.engine.status(REENABLE) not in (StepStatus.SKIPPED, StepStatus.DONE)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == REENABLE


@pytest.mark.slow
async def test_questions_close_when_a_rollback_happens_behind_them(
    moto_server: str, tmp_path: Path
) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    app = build_app(world.path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.engine is not None and app.runtime is not None
        engine = app.engine
        notes = notes_of(app)

        # A step's confirmation is open, the rollback question over it, when another shell
        # rolls back: both close.
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "verify-traffic"
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "action"
        await pilot.press("ctrl+r")  # the rollback question, over the step's
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        rolled = await shell("rollback", "-f", str(world.path), "--yes")
        assert rolled.returncode == 0, rolled.stderr
        assert await within(pilot, 10, lambda: isinstance(app.screen, StepScreen))
        assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)
        assert any("Closed the question: DNS was rolled back meanwhile" in n for n in notes)
        assert await within(pilot, 5, lambda: engine.current_step() == REENABLE)
        assert engine.status("verify-traffic") == StepStatus.PENDING

        # DNS is already back: the rollback question says so, not "back to the source".
        await pilot.press("ctrl+r")
        await pilot.pause()
        text = dialog_text(app)
        assert text.startswith("DNS is already on the source: rolled back at")
        await pilot.press("n")
        await pilot.pause()

    # The rollback dialog itself closes when another shell rolls back first.
    (tmp_path / "again").mkdir()
    second = flipped_world(tmp_path / "again", with_pool=False)
    app = build_app(second.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        notes = notes_of(app)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        rolled = await shell("rollback", "-f", str(second.path), "--yes")
        assert rolled.returncode == 0, rolled.stderr
        assert await within(pilot, 10, lambda: not isinstance(app.screen, ConfirmScreen))
        assert any("DNS was rolled back meanwhile" in n for n in notes)
        assert w.records(w.dns_session(False), second.zone)[0]["ResourceRecords"] == [
            {"Value": w.SOURCE_IP}
        ]


async def test_after_the_last_step_the_source_is_not_offered_as_the_live_target(
    moto_server: str, tmp_path: Path
) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    runtime = Runtime.open(world.path)  # the run walked to its last step
    w.walk(Engine(runtime), "verify-traffic")
    runtime.close()
    app = build_app(world.path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        text = dialog_text(app)
        assert text.startswith("The run is finished: 'Confirm traffic is served by the target'")
        assert "no longer the rollback target" in text
        assert "back to the source?" not in text and "back to the old records?" in text
