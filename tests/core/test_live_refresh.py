"""A live re-check never takes the action key away, and never floods the audit log.

The drain and the flip re-run their live checks every ten seconds while their
step is open. Before, each re-run made the step `checking`, and an action asked
for then was refused ("step is checking"); each re-run also wrote a whole gate
to the audit log (sixty gates in fourteen minutes of one wait).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runbook.audit.verify import read_records
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams, Status
from runbook.engine import Engine, GateNotPassed
from runbook.registry import CheckEntry, CheckRegistry
from runbook.runtime import Runtime
from runbook.state import StepStatus
from tests.support.dnsworld import walk
from tests.support.runbooks import base_runbook, with_steps, write_runbook


class Drain(Check[NoParams]):
    """A live check the test steers: its status and summary, and whether it blocks."""

    meta = CheckMeta(
        id="test.drain", title="drained", account="none", remediation="wait", live=True
    )
    status: ClassVar[Status] = Status.PASS
    summary: ClassVar[str] = "lag 2 s"
    hold: ClassVar[threading.Event | None] = None
    entered: ClassVar[threading.Event] = threading.Event()

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        if Drain.hold is not None:
            Drain.entered.set()
            Drain.hold.wait(60)
        return CheckResult(status=Drain.status, summary=Drain.summary)


@pytest.fixture
def engine(aws: None, tmp_path: Path) -> Any:
    Drain.status, Drain.summary, Drain.hold = Status.PASS, "lag 2 s", None
    Drain.entered.clear()
    registry = CheckRegistry.discover(plugins=False)
    registry.entries["test.drain"] = CheckEntry("test.drain", "builtin", __name__, Drain)
    book = base_runbook()
    steps = [
        book["steps"][0],
        {
            "id": "drain",
            "title": "Wait for CDC to drain",
            "phase": "cutover",
            "checks": [{"id": "test.drain"}],
            "action": {"kind": "manual", "confirm": "drained"},
        },
    ]
    runtime = Runtime.open(write_runbook(tmp_path, with_steps(book, steps)), registry=registry)
    engine = Engine(runtime)
    walk(engine, "verify-accounts")
    assert engine.run_gate("drain").passed
    yield engine
    runtime.close()


def gates(engine: Engine) -> list[str]:
    return [r["event"] for r in read_records(engine.rt.audit.path) if r.get("step") == "drain"]


def refresh_in_background(engine: Engine) -> threading.Thread:
    Drain.hold = threading.Event()
    thread = threading.Thread(
        target=engine.run_gate, args=("drain",), kwargs={"only": ["test.drain"]}
    )
    thread.start()
    assert Drain.entered.wait(30)
    return thread


def test_an_action_asked_for_during_a_refresh_waits_for_it_and_is_honoured(
    engine: Engine,
) -> None:
    refreshing = refresh_in_background(engine)
    # The step keeps its last gate's status: the action key stays enabled.
    assert engine.status("drain") == StepStatus.READY
    assert engine.can_act("drain")[0]
    done: list[Any] = []
    acting = threading.Thread(target=lambda: done.append(engine.do("drain", confirmed=True)))
    acting.start()
    acting.join(0.5)
    assert acting.is_alive() and not done  # waiting for the refresh, not refused
    assert Drain.hold is not None
    Drain.hold.set()
    refreshing.join(30)
    acting.join(30)
    assert done and done[0].ok, done
    assert "action.refused" not in gates(engine)


def test_a_refresh_that_turns_the_gate_answers_the_action_with_why(engine: Engine) -> None:
    refreshing = refresh_in_background(engine)
    Drain.status, Drain.summary = Status.FAIL, "lag 95 s"
    errors: list[BaseException] = []

    def act() -> None:
        try:
            engine.do("drain", confirmed=True)
        except GateNotPassed as exc:
            errors.append(exc)

    acting = threading.Thread(target=act)
    acting.start()
    assert Drain.hold is not None
    Drain.hold.set()
    refreshing.join(30)
    acting.join(30)
    assert errors and "test.drain fail" in str(errors[0])
    assert engine.rt.state.step("drain").status != StepStatus.DONE


def test_refreshes_are_audited_only_when_something_changed(engine: Engine) -> None:
    before = gates(engine)
    assert before == ["gate.started", "check.result", "gate.finished"]
    for _ in range(3):  # nothing changes: nothing written
        engine.run_gate("drain", only=["test.drain"])
    assert gates(engine) == before
    Drain.summary = "lag 1 s"
    engine.run_gate("drain", only=["test.drain"])
    after = [r for r in read_records(engine.rt.audit.path) if r.get("step") == "drain"]
    assert [r["event"] for r in after[3:]] == ["gate.started", "check.result", "gate.finished"]
    assert after[3]["details"]["refresh"] is True
    assert after[4]["details"]["summary"] == "lag 1 s"
