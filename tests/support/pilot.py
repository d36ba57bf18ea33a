"""Driving the app in tests: a small world in moto, settling, typing, walking the demo.

`messages` and `widget_thread_guard` are fixtures: a conftest imports them to use them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widget import Widget

from tests.support import dnsworld as w
from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]


class ThreadTouches:
    """Records every widget refresh made off the event-loop thread."""

    def __init__(self) -> None:
        self.offenders: list[str] = []
        self.main = threading.main_thread()


@pytest.fixture(autouse=True)
def widget_thread_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadTouches]:
    """Fail any test in which a worker thread touched a widget.

    Every change to what a widget shows ends in `refresh`; the app runs on the
    main thread, so a refresh from any other thread is a worker touching the UI.
    """
    touches = ThreadTouches()
    original = Widget.refresh

    def guarded(self: Widget, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not touches.main:
            thread = threading.current_thread().name
            touches.offenders.append(f"{type(self).__name__} from {thread}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Widget, "refresh", guarded)
    yield touches
    if not getattr(touches, "expected", False):
        assert touches.offenders == [], f"widgets touched from worker threads: {touches.offenders}"


class Messages:
    """Collects the messages the app and its screens handled, for assertions."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    def __call__(self, message: Message) -> None:
        self.seen.append(message)

    def of(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.seen if isinstance(m, kind)]


@pytest.fixture
def messages() -> Messages:
    return Messages()


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let workers finish and their messages be handled."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def small_world(tmp_path: Path, *, gated_flip: bool = True) -> tuple[Path, str, Any]:
    """Zone in the target with app.example.com at TTL 300; flip gated by dns.ttl."""
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    if gated_flip:
        book["steps"][2]["checks"] = [{"id": "dns.ttl"}]
    return write_runbook(tmp_path, book), zone, session


async def type_text(pilot: Pilot[Any], text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


async def walk_demo(
    pilot: Pilot[Any], *, stop_before: str, start_at: str | None = None
) -> tuple[list[str], list[str]]:
    """Walk the run step by step as an operator would, from `start_at` (the steps
    before it already done) up to `stop_before`.

    Each step is opened with `n`; a blocked gate is fixed in the emulator where
    the demo can (`f`, then `r`), else waived with a typed reason (`w`); then
    the action runs (`a`, confirmed with `y` when asked). Returns the steps
    that were blocked and those that were waived.
    """
    from runbook.state import StepStatus
    from screens.app import RunbookApp
    from screens.confirm import ConfirmScreen
    from screens.step import StepScreen
    from screens.waiver import WaiverScreen

    app = pilot.app
    assert isinstance(app, RunbookApp) and app.engine is not None and app.runtime is not None
    blocked: list[str] = []
    waived: list[str] = []
    steps = app.runtime.model.steps
    first = [s.id for s in steps].index(start_at) if start_at is not None else 0
    done = [
        app.engine.status(s.id) == StepStatus.DONE for s in steps[:first] if not s.after_rollback
    ]
    assert all(done), start_at
    for step in steps[first:]:
        if step.id == stop_before:
            break
        if step.after_rollback:
            continue  # skipped until a rollback: `n` never opens it
        await pilot.press("n")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen) and screen.step_id == step.id
        if app.engine.status(step.id) == StepStatus.BLOCKED:
            blocked.append(step.id)
            assert screen.check_action("do_action", ()) is None  # greyed out
            if screen.check_action("demo_fix", ()):
                await pilot.press("f")
                await settle(pilot)
                await pilot.press("r")
                await settle(pilot)
        if app.engine.status(step.id) == StepStatus.BLOCKED:
            await pilot.press("w")
            await pilot.pause()
            assert isinstance(app.screen, WaiverScreen)
            await type_text(pilot, f"rehearsal {step.id}")
            await pilot.press("enter")
            await settle(pilot)
            waived.append(step.id)
        await pilot.press("a")
        await pilot.pause()
        if isinstance(app.screen, ConfirmScreen):
            await pilot.press("y")
        await settle(pilot)
        status = app.engine.status(step.id)
        assert status == StepStatus.DONE, (step.id, app.runtime.state.step(step.id).note)
        await pilot.press("escape")
        await pilot.pause()
    return blocked, waived


async def shell(*args: str) -> subprocess.CompletedProcess[str]:
    """A headless `runbook` command in another process, while the app keeps running."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "runbook.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def within(pilot: Pilot[Any], seconds: float, condition: Callable[[], bool]) -> bool:
    """Wait (on the app's clock, without pressing anything) until `condition` holds."""
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        await pilot.pause(0.1)
    return condition()
