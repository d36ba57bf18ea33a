"""`n` opens the step the run is at from a step screen too, as the notices say
("next: … (n opens it)"); it worked only on the overview."""

from __future__ import annotations

from pathlib import Path

from screens.app import build_app
from screens.overview import OverviewScreen
from screens.step import StepScreen
from tests.support.pilot import settle, small_world


async def test_n_on_a_step_screen_opens_the_current_step_in_its_place(
    aws: None, tmp_path: Path
) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.engine is not None and app.engine.current_step() == "verify-accounts"
        app.open_step("flip-dns")
        await pilot.pause()
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "flip-dns"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "verify-accounts"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        await settle(pilot)
