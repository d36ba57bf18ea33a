"""Quitting during a wait asks first and closes promptly; the wait resumes next time.

Before, `q` during a wait closed the screen at once and the process sat blank
until the wait ended: the event loop joins its worker threads on the way out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from runbook.audit.verify import read_records
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.contract import DemoHooks
from screens.messages import ActionProgressed
from screens.step import StepScreen
from tests.support.pilot import Messages, settle
from tests.support.waitworld import until, wait_world

SIZES = [(160, 48), (80, 24)]


async def start_the_wait(pilot: Pilot[Any], messages: Messages) -> None:
    app = pilot.app
    assert isinstance(app, RunbookApp)
    await settle(pilot)
    app.open_step("settle")
    await pilot.pause()
    assert isinstance(app.screen, StepScreen)
    await pilot.press("a")
    await until(
        pilot, lambda: any(m.step_id == "settle" for m in messages.of(ActionProgressed)), "wait"
    )


async def quit_and_confirm(pilot: Pilot[Any], key: str) -> None:
    app = pilot.app
    await pilot.press(key)
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "quit"
    question = str(app.screen.question)
    assert (
        question.startswith("A wait is running (Let caches expire, ") and "quit anyway" in question
    )
    await pilot.press("y")
    # The app closes once the wait has stopped: no blank screen for the rest of the wait.
    await until(pilot, lambda: not app.is_running, "the app closed")


@pytest.mark.parametrize(("size", "key"), [(SIZES[0], "q"), (SIZES[1], "ctrl+c")])
async def test_quit_during_a_wait_asks_and_no_keeps_the_wait(
    aws: None, tmp_path: Path, messages: Messages, size: tuple[int, int], key: str
) -> None:
    path = wait_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=size, message_hook=messages) as pilot:
        await start_the_wait(pilot, messages)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "quit"
        assert "The run resumes next time" in str(app.screen.question)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, StepScreen)
        # No: the wait goes on, still counting down.
        counted = len(messages.of(ActionProgressed))
        await until(pilot, lambda: len(messages.of(ActionProgressed)) > counted, "countdown")
        assert app.acting == "settle" and app.is_running
        await quit_and_confirm(pilot, key)
    assert app.return_code == 0
    assert app.runtime is not None
    events = [r["event"] for r in read_records(app.runtime.audit.path) if r.get("step")]
    assert events[-2:] == ["action.intent", "action.interrupted"]


@pytest.mark.parametrize("size", SIZES)
async def test_a_wait_started_again_in_a_new_app_resumes_with_its_time_left(
    aws: None, tmp_path: Path, messages: Messages, size: tuple[int, int]
) -> None:
    path = wait_world(tmp_path)
    first = build_app(path)
    async with first.run_test(size=size, message_hook=messages) as pilot:
        await start_the_wait(pilot, messages)
        await quit_and_confirm(pilot, "q")
    assert first.runtime is not None
    deadline = first.runtime.refresh_state().step("settle").wait_deadline
    assert deadline is not None

    again = build_app(path)  # a new app on the same files, as after `runbook run` again
    later = Messages()
    async with again.run_test(size=size, message_hook=later) as pilot:
        await settle(pilot)
        assert again.runtime is not None and again.engine is not None
        saved = again.runtime.state.step("settle")
        assert saved.status == StepStatus.PENDING  # offered again
        assert any(n.startswith("settle: interrupted") for n in again.notes)
        await start_the_wait(pilot, later)
        shown = [m.text for m in later.of(ActionProgressed) if m.step_id == "settle"]
        assert shown[0].startswith("resumed: ")
        assert again.runtime.refresh_state().step("settle").wait_deadline == deadline
        await quit_and_confirm(pilot, "q")
    records = read_records(again.runtime.audit.path)
    interrupted = [r["details"]["deadline"] for r in records if r["event"] == "action.interrupted"]
    assert interrupted == [deadline.isoformat()] * 2


async def test_quit_with_nothing_running_does_not_ask(aws: None, tmp_path: Path) -> None:
    app = build_app(wait_world(tmp_path))
    async with app.run_test(size=SIZES[1]) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await asyncio.sleep(0)
        await until(pilot, lambda: not app.is_running, "the app closed")


async def test_quitting_a_demo_whose_world_ends_with_it_asks(aws: None, tmp_path: Path) -> None:
    # `runbook demo` (not --serve): the emulator stops with the app and the run is gone.
    app = build_app(wait_world(tmp_path), demo=DemoHooks(world_ends_on_quit=True))
    async with app.run_test(size=SIZES[1]) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "quit"
        assert "cannot be resumed" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "the app closed")
