"""The end of a wait rings the terminal bell and says so: a drain that passes, a timed wait."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.widgets import DataTable

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams, Status
from runbook.registry import CheckEntry, CheckRegistry
from runbook.runtime import Runtime
from screens.app import RunbookApp, build_app
from screens.messages import ActionFinished, GateFinished
from screens.step import SPINNER, StepScreen
from tests.support.pilot import Messages, settle
from tests.support.runbooks import base_runbook, with_steps, write_runbook
from tests.support.waitworld import until, wait_world

SIZES = [(160, 48), (80, 24)]


class Drain(Check[NoParams]):
    """A live check the test steers, as CDC lag that falls to zero."""

    meta = CheckMeta(
        id="test.drain", title="drained", account="none", remediation="wait", live=True
    )
    status: ClassVar[Status] = Status.FAIL
    hold: ClassVar[threading.Event] = threading.Event()  # cleared: a round hangs until set

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        Drain.hold.wait(30)
        return CheckResult(status=Drain.status, summary=f"lag {Drain.status.value}")


Drain.hold.set()  # rounds run at once unless a test holds them


class Spy:
    """Counts the bell and keeps the notices, calling through to the real app."""

    def __init__(self, app: RunbookApp) -> None:
        self.bells = 0
        self.notices: list[tuple[str, str]] = []
        real_bell, real_notify = app.bell, app.notify

        def bell() -> None:
            self.bells += 1
            real_bell()

        def notify(message: str, *args: Any, **kwargs: Any) -> None:
            self.notices.append((str(kwargs.get("title", "")), message))
            real_notify(message, *args, **kwargs)

        app.bell = bell  # type: ignore[method-assign]
        app.notify = notify  # type: ignore[method-assign]


@pytest.mark.parametrize("size", SIZES)
async def test_a_wait_that_ends_rings_the_bell_and_says_what_is_next(
    aws: None, tmp_path: Path, messages: Messages, size: tuple[int, int]
) -> None:
    app = build_app(wait_world(tmp_path, seconds=1))
    spy = Spy(app)
    async with app.run_test(size=size, message_hook=messages) as pilot:
        await settle(pilot)
        app.open_step("settle")
        await pilot.pause()
        assert spy.bells == 0
        await pilot.press("a")
        await until(pilot, lambda: messages.of(ActionFinished), "the wait ended")
        await pilot.pause()
    assert messages.of(ActionFinished)[0].outcome.ok
    assert spy.bells == 1
    titles = [title for title, _text in spy.notices]
    assert "The wait is over" in titles
    text = next(t for title, t in spy.notices if title == "The wait is over")
    assert text.startswith("Let caches expire is done; ")


def drain_app(tmp_path: Path) -> RunbookApp:
    registry = CheckRegistry.discover(plugins=False)
    registry.entries["test.drain"] = CheckEntry("test.drain", "builtin", __name__, Drain)
    book = base_runbook()
    drain = {
        "id": "drain",
        "title": "Wait for CDC to drain",
        "phase": "cutover",
        "independent": True,
        "checks": [{"id": "test.drain"}],
        "action": {"kind": "manual", "confirm": "drained"},
    }
    path = write_runbook(tmp_path, with_steps(book, [book["steps"][0], drain]))
    return build_app(runtime=Runtime.open(path, registry=registry))


@pytest.mark.parametrize("size", SIZES)
async def test_a_drain_whose_live_gate_turns_to_pass_rings_the_bell(
    aws: None, tmp_path: Path, messages: Messages, size: tuple[int, int]
) -> None:
    Drain.status = Status.FAIL
    app = drain_app(tmp_path)
    spy = Spy(app)
    async with app.run_test(size=size, message_hook=messages) as pilot:
        await settle(pilot)
        app.open_step("drain")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen)
        assert [m.gate.passed for m in messages.of(GateFinished) if m.step_id == "drain"] == [False]
        screen.refresh_live()  # a round of the auto-refresh: still lagging, no bell
        await settle(pilot)
        assert spy.bells == 0
        Drain.status = Status.PASS
        screen.refresh_live()  # the next round: drained
        await settle(pilot)
        gates = [m.gate.passed for m in messages.of(GateFinished) if m.step_id == "drain"]
        assert gates == [False, False, True]
        assert spy.bells == 1
        assert (
            "Ready",  # any live step (replication, drain), so not "Drained"
            "Wait for CDC to drain: its checks pass now; the action is enabled.",
        ) in (spy.notices)
        screen.refresh_live()  # still passing: nothing new to announce
        await settle(pilot)
        assert spy.bells == 1


async def test_a_live_refresh_in_progress_spins_beside_the_last_results(
    aws: None, tmp_path: Path, messages: Messages
) -> None:
    Drain.status = Status.FAIL
    Drain.hold.set()
    app = drain_app(tmp_path)
    async with app.run_test(size=SIZES[1], message_hook=messages) as pilot:
        await settle(pilot)
        app.open_step("drain")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen)
        table = screen.query_one("#checks", DataTable)
        assert str(table.get_cell("0:test.drain", "checked")).endswith("s ago")
        Drain.hold.clear()
        try:
            screen.refresh_live()  # a round that hangs: the last result stays, and spins
            await until(
                pilot,
                lambda: str(table.get_cell("0:test.drain", "checked"))[:1] in SPINNER,
                "the spinner (the app's clock ticks each second)",
            )
            assert str(table.get_cell("0:test.drain", "checked")).endswith("checking")
            assert "fail" in str(table.get_cell("0:test.drain", "status"))
        finally:
            Drain.hold.set()
        await until(pilot, lambda: str(table.get_cell("0:test.drain", "checked")).endswith("ago"),
                    "the round ended")  # fmt: skip
