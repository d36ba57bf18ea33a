"""Pilot tests: a cutover driven through the app, keys only, asserting on messages and AWS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records, verify
from runbook.checkapi import NoParams
from runbook.dns.records import same_sets
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine
from runbook.registry import CheckEntry, CheckRegistry
from runbook.runtime import Runtime
from runbook.state import StepStatus
from screens.app import build_app
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.messages import (
    ActionFinished,
    AuditFailed,
    GateFinished,
    GateStarted,
    RollbackFinished,
)
from screens.review import ReviewScreen
from screens.step import StepScreen
from screens.waiver import WaiverScreen
from tests.support import dnsworld as w
from tests.support.checks import HeldCheck as SlowCheck
from tests.support.pilot import Messages, ThreadTouches, settle, small_world


async def test_cutover_waive_flip_and_roll_back_from_everywhere(
    aws: None, tmp_path: Path, messages: Messages
) -> None:
    path, zone, session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=(120, 40), message_hook=messages) as pilot:
        await settle(pilot)
        assert app.identity_ok is True

        # 1. Verify accounts: its gate passes, the action runs.
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "verify-accounts"
        await pilot.press("a")
        await settle(pilot)
        assert app.engine is not None
        assert app.engine.status("verify-accounts") == StepStatus.DONE

        # 2. Lower the TTL: asks once more, then sends.
        await pilot.press("escape", "down", "enter")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert w.records(session, zone)[0]["TTL"] == 30

        # 3. Flip: the TTL was lowered seconds ago, so the gate fails and blocks.
        await pilot.press("escape", "down", "enter")
        await settle(pilot)
        step = app.screen
        assert isinstance(step, StepScreen) and step.step_id == "flip-dns"
        assert app.engine.status("flip-dns") == StepStatus.BLOCKED
        assert step.check_action("do_action", ()) is None  # greyed out
        await pilot.press("a")
        await settle(pilot)
        assert app.screen is step  # nothing asked, nothing sent
        assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]

        # Waive it with a typed reason.
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WaiverScreen)
        await pilot.press("enter")  # empty reason refused
        assert isinstance(app.screen, WaiverScreen)
        for key in "rehearsal: TTL lowered today":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await settle(pilot)
        assert app.engine.status("flip-dns") == StepStatus.WAIVED
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
        assert app.runtime is not None
        snapshot = Snapshot.load(app.runtime.snapshot_path)

        # 4. Roll back from the step screen ...
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        await pilot.press("y")
        await settle(pilot)
        assert same_sets(w.records(session, zone), snapshot.record_sets)

        # ... from a modal (help) ...
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("escape")  # close help

        # ... and from the review screen.
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)

    assert same_sets(w.records(session, zone), snapshot.record_sets)
    rollbacks = messages.of(RollbackFinished)
    assert [m.result.confirmed for m in rollbacks] == [True, True, True]
    flip_gates = [m for m in messages.of(GateFinished) if m.step_id == "flip-dns"]
    assert flip_gates[0].gate.passed is False
    finished = [(m.step_id, m.outcome.ok) for m in messages.of(ActionFinished)]
    assert finished == [("verify-accounts", True), ("lower-ttl", True), ("flip-dns", True)]

    log = tmp_path / ".runbook" / "audit.jsonl"
    assert verify(log).ok
    events = [(r["event"], r["step"]) for r in read_records(log)]
    expected = [
        ("action.intent", "verify-accounts"),
        ("action.outcome", "verify-accounts"),
        ("action.intent", "lower-ttl"),
        ("action.outcome", "lower-ttl"),
        ("gate.waived", "flip-dns"),
        ("action.intent", "flip-dns"),
        ("dns.snapshot_saved", "flip-dns"),
        ("action.outcome", "flip-dns"),
        ("rollback.intent", None),
        ("rollback.outcome", None),
        ("rollback.intent", None),
        ("rollback.outcome", None),
        ("rollback.intent", None),
        ("rollback.outcome", None),
    ]
    it = iter(events)
    assert all(item in it for item in expected), events  # in this order
    waived = next(r for r in read_records(log) if r["event"] == "gate.waived")
    assert waived["details"]["reason"] == "rehearsal: TTL lowered today"


async def test_rollback_starts_while_slow_checks_run(
    aws: None, tmp_path: Path, messages: Messages
) -> None:
    path, zone, session = small_world(tmp_path, gated_flip=False)
    text = path.read_text().replace('id = "dns.ttl"', f'id = "{SlowCheck.meta.id}"')
    path.write_text(text.replace('[[steps]]\nid = "flip-dns"', '[[steps]]\nid = "flip-dns"'))
    registry = CheckRegistry.discover()
    registry.entries[SlowCheck.meta.id] = CheckEntry(
        SlowCheck.meta.id, "test", SlowCheck.__module__, SlowCheck
    )
    book = path.read_text()
    book = book.replace(
        'id = "verify-accounts"\ntitle = "Verify accounts"\nphase = "prepare"\n',
        'id = "verify-accounts"\ntitle = "Verify accounts"\nphase = "prepare"\n',
    )
    path.write_text(book)
    runtime = Runtime.open(path, registry=registry)
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        engine.run_gate(step)
        assert engine.do(step, confirmed=True).ok
    # Add ten slow checks to the first step's gate, as a re-check during the incident.
    runtime.loaded.model.steps[0].checks.clear()
    slow_jobs = 10
    from runbook.model import CheckRef

    for index in range(slow_jobs):
        runtime.loaded.model.steps[0].checks.append(CheckRef(id=SlowCheck.meta.id))
        runtime.loaded.params[("verify-accounts", index)] = NoParams()
    runtime.update_state(
        lambda state: setattr(state.step("verify-accounts"), "status", StepStatus.PENDING)
    )

    app = build_app(runtime=runtime)
    SlowCheck.release.clear()
    try:
        async with app.run_test(size=(120, 40), message_hook=messages) as pilot:
            await pilot.pause()
            app.run_gate("verify-accounts")
            started = time.monotonic()
            while not messages.of(GateStarted):
                await asyncio.sleep(0.01)
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            while not messages.of(RollbackFinished) and time.monotonic() - started < 15:
                await asyncio.sleep(0.02)
            # The rollback finished while all ten checks were still running.
            assert messages.of(RollbackFinished)[0].result.confirmed
            assert not [m for m in messages.of(GateFinished) if m.step_id == "verify-accounts"]
            assert app.rollback_running is False
            SlowCheck.release.set()
            await settle(pilot)
    finally:
        SlowCheck.release.set()
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]


async def test_the_thread_guard_catches_a_worker_touching_a_widget(
    aws: None, tmp_path: Path, widget_thread_guard: ThreadTouches
) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        header: Any = app.screen.query_one("RunHeader")

        def bad() -> None:
            header.update("from a thread")

        app.run_worker(bad, thread=True)
        await settle(pilot)
    assert widget_thread_guard.offenders, "the guard must notice a worker touching a widget"
    widget_thread_guard.expected = True  # type: ignore[attr-defined]


async def test_an_audit_failure_stops_the_app(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, messages: Messages
) -> None:
    import os

    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    assert app.runtime is not None
    async with app.run_test(size=(120, 40), message_hook=messages) as pilot:
        await settle(pilot)

        def broken_fsync(_fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fsync", broken_fsync)
        await pilot.press("enter")  # the gate's first record cannot be written
        for _ in range(50):
            await pilot.pause(0.05)
            if app.return_code is not None:
                break
    assert app.return_code == 1
    (failure,) = messages.of(AuditFailed)
    assert "Input/output error" in failure.error
    assert not messages.of(GateFinished)  # nothing ran on without its record
