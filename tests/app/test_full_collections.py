"""Full garbage collections run when the app says, never in the middle of a gate.

A full (generation 2) collection holds the GIL for as long as it walks the heap,
stalling the event loop and the rollback's worker alike. The app leaves CPython
the young collections and runs full ones itself when no gate or rollback is
under way; it also shortens the GIL's switch interval while it runs
(`screens/rollback_ready.py`). Both settings are the process's: they are put
back when the app ends.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import screens.rollback_ready as rollback_ready
from runbook.checkapi import NoParams
from runbook.model import CheckRef
from runbook.registry import CheckEntry, CheckRegistry
from runbook.runtime import Runtime
from screens.app import RunbookApp, build_app
from screens.messages import GateFinished, GateStarted
from tests.support.checks import HeldCheck as BlockingCheck
from tests.support.pilot import Messages, small_world

STEP = "verify-accounts"


class Node:
    me: Node | None = None


def _runtime(tmp_path: Path) -> Runtime:
    path, _zone, _session = small_world(tmp_path, gated_flip=False)
    registry = CheckRegistry.discover()
    registry.entries[BlockingCheck.meta.id] = CheckEntry(
        BlockingCheck.meta.id, "test", BlockingCheck.__module__, BlockingCheck
    )
    runtime = Runtime.open(path, registry=registry)
    first = runtime.loaded.model.steps[0]
    first.checks.clear()
    first.checks.append(CheckRef(id=BlockingCheck.meta.id))
    runtime.loaded.params[(first.id, 0)] = NoParams()
    return runtime


def _old_cycle() -> weakref.ref[Node]:
    """An unreachable cycle that has reached the oldest generation: only a full pass frees it."""
    node = Node()
    node.me = node
    gc.collect(1)  # young passes: the (still referenced) node moves to generation 2
    return weakref.ref(node)


def _churn() -> None:
    """What a gate's clients do to the heap: many objects that outlive young passes."""
    kept: list[list[int]] = [[] for _ in range(400_000)]
    del kept


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _loaded(app: RunbookApp) -> None:
    """Start-up's own freeze (once the accounts are checked) is behind us."""
    await _until(lambda: app.identity_ok is not None, "the identity check at start")
    await app.workers.wait_for_complete()


class FullPasses:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info.get("generation") == 2:
            self.count += 1


async def test_no_full_collection_during_a_gate_and_one_once_it_ends(
    aws: None, tmp_path: Path, messages: Messages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollback_ready, "QUIET_COLLECT_S", 0.1)
    before = gc.get_threshold()
    interval = sys.getswitchinterval()
    app = build_app(runtime=_runtime(tmp_path))
    full = FullPasses()
    BlockingCheck.release.clear()
    try:
        async with app.run_test(size=(120, 40), message_hook=messages):
            await _loaded(app)
            assert sys.getswitchinterval() <= rollback_ready.SWITCH_INTERVAL_S
            app.run_gate(STEP)
            await _until(lambda: bool(messages.of(GateStarted)), "the gate to start")
            gc.callbacks.append(full)
            try:
                cycle = _old_cycle()
                _churn()
                await asyncio.sleep(0.5)  # several of the app's quiet ticks pass
                assert full.count == 0, "a full collection ran while the gate was running"
                assert cycle() is not None
            finally:
                gc.callbacks.remove(full)
            BlockingCheck.release.set()
            await _until(lambda: bool(messages.of(GateFinished)), "the gate to finish")
            await _until(lambda: cycle() is None, "the app's full collection after the gate")
    finally:
        BlockingCheck.release.set()
    # CPython's own schedule and slice are back once the app ends.
    assert gc.get_threshold() == before
    assert sys.getswitchinterval() == interval


async def test_a_gate_that_never_ends_still_lets_a_full_collection_through(
    aws: None, tmp_path: Path, messages: Messages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollback_ready, "QUIET_COLLECT_S", 0.1)
    monkeypatch.setattr(rollback_ready, "MAX_DEFER_S", 0.3)
    app = build_app(runtime=_runtime(tmp_path))
    BlockingCheck.release.clear()
    try:
        async with app.run_test(size=(120, 40), message_hook=messages):
            await _loaded(app)
            app.run_gate(STEP)
            await _until(lambda: bool(messages.of(GateStarted)), "the gate to start")
            cycle = _old_cycle()
            _churn()  # enough that CPython would have run a full collection by now
            await _until(lambda: cycle() is None, "a full collection past the longest deferral")
            assert not messages.of(GateFinished)  # the gate was still running
            BlockingCheck.release.set()
            await _until(lambda: bool(messages.of(GateFinished)), "the gate to finish")
    finally:
        BlockingCheck.release.set()
