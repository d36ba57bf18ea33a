"""The overview's Took column times what the tool did: a manual step's confirmation is
the operator's click, so it shows no time there. moto's server, real pilots."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from runbook.state import StepStatus
from screens.app import build_app
from screens.overview import OverviewScreen
from tests.support.pilot import settle
from tests.support.rollbackworld import READ_ONLY, WATCH, flipped_world


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_manual_steps_show_no_time_taken(
    moto_server: str, tmp_path: Path, size: tuple[int, int]
) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    app = build_app(world.path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.engine is not None and isinstance(app.screen, OverviewScreen)
        table = app.screen.query_one("#steps", DataTable)
        for step in (READ_ONLY, WATCH, "flip-dns", "lower-ttl"):
            assert app.engine.status(step) == StepStatus.DONE, step

        def took(step: str) -> str:
            return str(table.get_cell(step, "took"))

        assert took(READ_ONLY) == "" and took(WATCH) == ""
        # What the tool did is still timed.
        assert took("flip-dns").endswith(("ms", "s")) and took("lower-ttl") != ""
