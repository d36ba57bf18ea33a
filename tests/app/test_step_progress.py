"""A running action's progress is on screen at 80x24, whatever the step's text.

It sat in the scrolled body below the instructions and the checks: at 80x24 a
minute of force-migration showed only "step is running" (user walk).
"""

from __future__ import annotations

import re
from pathlib import Path

from runbook.state import StepStatus
from screens.app import build_app
from screens.messages import ActionProgressed
from screens.step import StepScreen
from tests.support.pilot import Messages, settle
from tests.support.waitworld import until, wait_world

LONG = "\n\n".join(f"{n}. A paragraph of instructions the operator reads first." for n in range(30))


async def test_progress_shows_below_long_instructions_at_80x24(
    aws: None, tmp_path: Path, messages: Messages
) -> None:
    app = build_app(wait_world(tmp_path, seconds=120, instructions=LONG))
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        await settle(pilot)
        app.open_step("settle")
        await pilot.pause()
        assert isinstance(app.screen, StepScreen)
        await pilot.press("a")
        shown = lambda: [m.text for m in messages.of(ActionProgressed) if m.step_id == "settle"]  # noqa: E731
        await until(pilot, lambda: len(shown()) >= 2, "the countdown")
        await pilot.pause()
        assert shown()[-1].endswith("s left")  # "119s left": the wait's own words
        # Whichever second it is at now, the countdown is drawn on the screen.
        assert re.search(r">\d+s&#160;left<", app.export_screenshot())
        app.cancel_action()
        await until(pilot, lambda: app.step_status("settle") != StepStatus.RUNNING, "cancelled")
        await settle(pilot)
