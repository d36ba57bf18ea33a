"""The watch in the app: countdown and sparklines on its step, a breach alert on any screen.

The criterion is scripted (`tests.support.watchworld`): it passes until the
test trips it, so the breach lands while the operator is on another screen,
without any timing. DNS is moto's, flipped for real before the watch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Sparkline, Static

from runbook.audit.verify import read_records, verify
from runbook.runtime import Runtime
from runbook.state import StepStatus
from runbook.watch import WATCH_BREACHED
from screens.app import build_app
from screens.breach import BreachScreen
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.messages import RollbackFinished, WatchBreached
from screens.step import StepScreen
from screens.watching import WatchPanel
from screens.widgets import RunHeader
from tests.support import dnsworld as w
from tests.support.pilot import Messages, settle, within
from tests.support.watchworld import (
    WATCH_STEP,
    criterion,
    flipped_run_with_watch,
    registry,
    trip,
)


def header(app: Any) -> str:
    return str(app.screen.query_one(RunHeader).render())


async def test_a_breach_alerts_on_the_open_screen_and_rolls_back_from_it(
    aws: None, tmp_path: Path, messages: Messages
) -> None:
    name = tmp_path.name
    action = {"window_s": 300, "interval_s": 0.2}
    path, zone = flipped_run_with_watch(tmp_path, action, [criterion(name, "pass")])
    session = w.dns_session(False)
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    app = build_app(runtime=Runtime.open(path, registry=registry()))
    async with app.run_test(size=(130, 45), message_hook=messages) as pilot:
        await settle(pilot)
        assert app.engine is not None and app.runtime is not None
        app.open_step(WATCH_STEP)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen)
        await pilot.press("a")  # a watch changes nothing in AWS: no confirmation
        assert await within(pilot, 20, lambda: app.watch_view is not None)
        view0 = app.watch_view
        assert view0 is not None
        assert await within(pilot, 20, lambda: (app.watch_view or view0).round >= 2)
        await pilot.pause(0.2)
        panel = screen.query_one(WatchPanel)
        countdown = str(panel.query_one("#watch-countdown", Static).render())
        assert "left of 5m 00s" in countdown
        assert panel.query(Sparkline)  # the criterion's series
        assert app.step_status(WATCH_STEP) == StepStatus.RUNNING

        # The operator wanders off: the overview, then the help over it.
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)

        trip(name)  # the metric crosses its threshold mid-window
        assert await within(pilot, 20, lambda: isinstance(app.screen, BreachScreen))
        assert isinstance(app.screen_stack[-2], HelpScreen)  # over whatever was open
        await pilot.pause()
        alert = str(app.screen.query_one("#headline", Static).render())
        assert "WATCH BREACHED: test.scripted" in alert
        (breached,) = messages.of(WatchBreached)
        assert breached.alert is True

        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        await pilot.press("y")
        assert await within(pilot, 20, lambda: bool(messages.of(RollbackFinished)))
        await settle(pilot)
        assert [m.result.confirmed for m in messages.of(RollbackFinished)] == [True]
        assert isinstance(app.screen, BreachScreen)
        body = str(app.screen.query_one("#body", Static).render())
        assert "back on the snapshot" in body
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.active_breach() is None
        await pilot.press("escape")
        await pilot.pause()
        assert "BREACH" not in header(app)  # the overview's header: resolved

    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    assert app.runtime is not None
    log = app.runtime.audit.path
    assert verify(log).ok
    events = [r["event"] for r in read_records(log)]
    assert events.index(WATCH_BREACHED) < events.index("rollback.intent")


async def test_the_header_keeps_an_acknowledged_breach_on_every_screen(
    aws: None, tmp_path: Path
) -> None:
    name = tmp_path.name
    action = {"window_s": 300, "interval_s": 0.2}
    path, _zone = flipped_run_with_watch(tmp_path, action, [criterion(name, "pass", "pass")])
    app = build_app(runtime=Runtime.open(path, registry=registry()))
    async with app.run_test(size=(130, 45)) as pilot:
        await settle(pilot)
        app.open_step(WATCH_STEP)
        await settle(pilot)
        await pilot.press("a")
        assert await within(pilot, 20, lambda: app.watch_view is not None)
        trip(name)
        assert await within(pilot, 20, lambda: isinstance(app.screen, BreachScreen))
        await pilot.pause()
        await pilot.press("escape")  # acknowledged, not resolved
        await pilot.pause()
        assert isinstance(app.screen, StepScreen)
        assert "BREACH: test.scripted" in header(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "BREACH: test.scripted" in header(app)  # the overview says so too
        assert app.engine is not None
        assert app.engine.status(WATCH_STEP) == StepStatus.FAILED


async def test_quitting_stops_a_watch_in_progress(aws: None, tmp_path: Path) -> None:
    action = {"window_s": 60, "interval_s": 0.2}  # longer than the test waits for the exit
    path, _zone = flipped_run_with_watch(tmp_path, action, [criterion(tmp_path.name, "pass")])
    audit = path.parent / ".runbook" / "audit.jsonl"
    app = build_app(runtime=Runtime.open(path, registry=registry()))

    def interrupted() -> list[dict[str, Any]]:
        return [r for r in read_records(audit) if r["event"] == "action.interrupted"]

    async with app.run_test(size=(130, 45)) as pilot:
        await settle(pilot)
        app.open_step(WATCH_STEP)
        await settle(pilot)
        await pilot.press("a")
        assert await within(pilot, 20, lambda: app.watch_view is not None)
        await pilot.press("escape", "q")  # asks first: a watch is running
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "quit"
        await pilot.press("y")  # the window does not hold the exit
        assert await within(pilot, 20, lambda: not app.is_running)
    # The watch's worker thread stopped it, undecided: the next start reconciles it.
    record = interrupted()[-1]
    assert record["step"] == WATCH_STEP and record["details"]["rounds"] >= 1
