"""An operator who opens the rollback question and says no leaves a record of it: the
audit log has `rollback.not_confirmed` and the report counts a declined rollback; a
question closed because its premise changed is not a decline. moto's server, real pilots."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.audit.record import EventName, gist
from runbook.audit.verify import read_records
from runbook.report.build import build_report
from screens.app import build_app
from screens.confirm import ConfirmScreen
from screens.overview import OverviewScreen
from screens.premises import close_stale_questions
from tests.support.pilot import settle, within
from tests.support.rollbackworld import flipped_world


def events(path: Path) -> list[str]:
    return [str(r["event"]) for r in read_records(path)]


@pytest.mark.parametrize(("size", "key"), [((160, 48), "n"), ((80, 24), "escape")])
async def test_a_declined_rollback_is_audited(
    moto_server: str, tmp_path: Path, size: tuple[int, int], key: str
) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    app = build_app(world.path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert app.runtime is not None
        log = app.runtime.audit.path
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        declined = EventName.ROLLBACK_NOT_CONFIRMED
        assert await within(pilot, 10, lambda: declined in events(log)), events(log)
        assert app.last_rollback is None  # nothing was sent
        record = next(r for r in read_records(log) if r["event"] == declined)
        assert record["details"]["snapshot"] == str(app.runtime.snapshot_path)
        said = gist(record["event"], record["details"])  # as `audit show` lists it
        assert said == "declined by the operator in the app; nothing sent"
    assert "rollback.intent" not in events(log)
    report = build_report(log)
    assert [r.state for r in report.rollbacks] == ["declined by the operator; nothing sent"]


async def test_a_question_closed_by_a_new_snapshot_is_not_a_decline(
    moto_server: str, tmp_path: Path
) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    app = build_app(world.path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.runtime is not None
        log = app.runtime.audit.path
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        snapshot = app.runtime.snapshot_path
        snapshot.write_text(snapshot.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        close_stale_questions(app)  # what the app does when the run changes on disk
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+r")  # asked again, and now declined: one record, this one
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot)
        declined = EventName.ROLLBACK_NOT_CONFIRMED
        assert await within(pilot, 10, lambda: declined in events(log)), events(log)
    assert events(log).count(declined) == 1
