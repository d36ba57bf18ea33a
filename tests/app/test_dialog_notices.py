"""A dialog holds the operator's attention: notices wait underneath until it closes.

At 80x24 a toast covered a dialog's text and buttons (the rollback question's
border, the quit dialog's Cancel); at 120x40 too. Notices are not lost: they show
on the screen the dialog returns to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from screens.app import build_app
from screens.help import HelpScreen
from tests.support.pilot import settle, small_world

WORD = "Zanzibarnotice"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_a_notice_is_not_drawn_over_a_dialog_and_shows_after_it(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        app.notify(f"{WORD} arrived while the dialog was open", timeout=60)
        await pilot.pause()
        assert WORD not in app.export_screenshot()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert WORD in app.export_screenshot()
