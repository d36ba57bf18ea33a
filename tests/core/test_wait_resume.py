"""A timed wait interrupted by a quit (or a crash) resumes until the same deadline.

The wait's deadline is kept in the run state before the countdown starts; the
interruption is audited and leaves the intent open, so the next process settles
it as after a crash: offered again (and it resumes with the same deadline), or
done when the deadline passed while nothing ran.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from runbook.actions import ActionInterrupted
from runbook.audit.verify import read_records
from runbook.engine import Engine
from runbook.runtime import Runtime
from runbook.state import RunState, StepStatus, utcnow
from tests.support.runbooks import base_runbook, with_steps, write_runbook

WAIT_S = 600


def wait_runbook(tmp_path: Path) -> Path:
    book = base_runbook()
    steps = [
        {
            "id": "settle",
            "title": "Let caches expire",
            "phase": "cutover",
            "independent": True,
            "action": {"kind": "wait", "seconds": WAIT_S},
        }
    ]
    return write_runbook(tmp_path, with_steps(book, steps))


def interrupt_a_running_wait(engine: Engine) -> tuple[BaseException | None, list[str]]:
    """Start the wait in a thread, interrupt it once it counts down; what it raised."""
    interrupt = threading.Event()
    counting = threading.Event()
    texts: list[str] = []
    raised: list[BaseException] = []

    def progress(_fraction: float | None, text: str) -> None:
        texts.append(text)
        counting.set()

    def run() -> None:
        try:
            engine.do("settle", progress=progress, interrupt=interrupt)
        except BaseException as exc:  # the test inspects what the worker saw
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert counting.wait(30), raised
    interrupt.set()
    thread.join(30)
    assert not thread.is_alive(), "the wait did not stop when interrupted"
    return (raised[0] if raised else None), texts


def test_an_interrupted_wait_is_audited_and_left_open_for_the_next_start(
    aws: None, tmp_path: Path
) -> None:
    path = wait_runbook(tmp_path)
    runtime = Runtime.open(path)
    raised, _texts = interrupt_a_running_wait(Engine(runtime))
    assert isinstance(raised, ActionInterrupted)
    deadline = runtime.refresh_state().step("settle").wait_deadline
    assert deadline is not None
    events = [r for r in read_records(runtime.audit.path) if r.get("step") == "settle"]
    assert [r["event"] for r in events] == ["action.intent", "action.interrupted"]
    assert events[-1]["details"]["deadline"] == deadline.isoformat()
    saved = runtime.state.step("settle")
    assert saved.status == StepStatus.RUNNING and runtime.state.in_flight is not None
    runtime.close()

    # A new process: the interrupted wait is settled as a crashed action would be.
    again = Runtime.open(path)
    engine = Engine(again)
    notes = engine.reconcile()
    # Said as what it is: the wait's time kept running, nothing "did not take effect".
    at = deadline.strftime("%Y-%m-%d %H:%M:%S")
    assert notes == [f"settle: interrupted; offered again, still counting down to {at}Z"]
    assert again.state.step("settle").status == StepStatus.PENDING
    # Started again, the wait counts down to the deadline recorded the first time.
    raised, texts = interrupt_a_running_wait(engine)
    assert isinstance(raised, ActionInterrupted)
    assert again.refresh_state().step("settle").wait_deadline == deadline
    assert texts[0].startswith("resumed:")
    intents = [
        r
        for r in read_records(again.audit.path)
        if r["event"] == "action.interrupted" and r.get("step") == "settle"
    ]
    assert [r["details"]["deadline"] for r in intents] == [deadline.isoformat()] * 2
    again.close()


def test_a_wait_whose_deadline_passed_while_stopped_is_reconciled_as_done(
    aws: None, tmp_path: Path
) -> None:
    path = wait_runbook(tmp_path)
    runtime = Runtime.open(path)
    interrupt_a_running_wait(Engine(runtime))

    def passed(state: RunState) -> None:  # the app stayed closed longer than the wait
        state.step("settle").wait_deadline = utcnow() - timedelta(seconds=1)

    runtime.update_state(passed)
    runtime.close()
    again = Runtime.open(path)
    notes = Engine(again).reconcile()
    assert len(notes) == 1 and "deadline" in notes[0] and "passed" in notes[0], notes
    saved = again.state.step("settle")
    assert saved.status == StepStatus.DONE and saved.wait_deadline is None
    last = read_records(again.audit.path)[-1]
    assert last["event"] == "action.reconciled" and last["details"]["ok"] is True
    again.close()


def test_a_wait_stopped_by_the_operator_starts_afresh(aws: None, tmp_path: Path) -> None:
    runtime = Runtime.open(wait_runbook(tmp_path))
    engine = Engine(runtime)
    stop = threading.Event()
    stop.set()
    outcome = engine.do("settle", cancel=stop)
    assert not outcome.ok and "cancelled" in outcome.summary
    # The stop key ends the wait: the next one is a new wait, not the rest of this one.
    assert runtime.refresh_state().step("settle").wait_deadline is None
    runtime.close()


@pytest.mark.parametrize("kind", ["none"])
def test_an_action_that_cannot_pause_ignores_the_interrupt(
    aws: None, tmp_path: Path, kind: str
) -> None:
    book = with_steps(
        base_runbook(),
        [{"id": "noop", "title": "No-op", "phase": "x", "action": {"kind": kind}}],
    )
    runtime = Runtime.open(write_runbook(tmp_path, book))
    interrupt = threading.Event()
    interrupt.set()
    assert Engine(runtime).do("noop", interrupt=interrupt).ok
    runtime.close()


def test_an_interrupted_watch_is_audited_and_shown_stopped(aws: None, tmp_path: Path) -> None:
    from runbook.watch import read_view

    book = base_runbook()
    watch = {
        "id": "settle",  # the helper above drives the step by this id
        "title": "Watch after the flip",
        "phase": "after",
        "independent": True,
        "checks": [{"id": "identity.accounts"}],
        "action": {"kind": "watch", "window_s": WAIT_S, "interval_s": 60},
    }
    runtime = Runtime.open(write_runbook(tmp_path, with_steps(book, [watch])))
    engine = Engine(runtime)
    assert engine.run_gate("settle").passed
    raised, _texts = interrupt_a_running_wait(engine)
    assert isinstance(raised, ActionInterrupted)
    last = read_records(runtime.audit.path)[-1]
    assert last["event"] == "action.interrupted" and last["details"]["rounds"] >= 1
    view = read_view(runtime.state_dir)
    assert view is not None and view.verdict == "stopped"
    runtime.close()
