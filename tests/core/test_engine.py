"""The step engine: gates, waivers, order, persistence and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records, verify
from runbook.cli.main import main
from runbook.engine import Engine, GateNotPassed
from runbook.runtime import Runtime
from runbook.state import StepStatus
from tests.support.runbooks import TARGET, base_runbook, write_runbook


def book(**changes: Any) -> dict[str, Any]:
    runbook = base_runbook()
    runbook["steps"] = [
        {
            "id": "verify-accounts",
            "title": "Verify",
            "phase": "prepare",
            "checks": [{"id": "identity.accounts"}],
            "action": {"kind": "none"},
        },
        {
            "id": "side-quest",
            "title": "Independent",
            "phase": "prepare",
            "independent": True,
            "action": {"kind": "manual", "confirm": "I did the side quest"},
        },
        {
            "id": "deploy",
            "title": "Deploy target",
            "phase": "stage",
            "action": {"kind": "manual", "confirm": "Target stacks deployed"},
        },
    ]
    runbook.update(changes)
    return runbook


def test_gate_then_action_then_resume(aws: None, tmp_path: Path) -> None:
    path = write_runbook(tmp_path, book())
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    assert not runtime.resumed
    assert engine.status("verify-accounts") == StepStatus.PENDING
    assert engine.can_act("verify-accounts") == (False, "gate not run yet")
    gate = engine.run_gate("verify-accounts")
    assert gate.passed and engine.status("verify-accounts") == StepStatus.READY
    assert engine.do("verify-accounts").ok
    assert engine.status("verify-accounts") == StepStatus.DONE
    # Independent steps never hold later ones back.
    engine.run_gate("deploy")
    assert engine.can_act("deploy") == (True, "gate passed")
    with pytest.raises(GateNotPassed, match="already done"):
        engine.do("verify-accounts")
    outcome = engine.do("deploy", confirmed=False)
    assert not outcome.ok and "not confirmed" in outcome.summary
    assert engine.status("deploy") == StepStatus.FAILED
    runtime.close()

    again = Runtime.open(path)
    engine = Engine(again)
    assert again.resumed and again.state.run_id == runtime.state.run_id
    assert engine.status("verify-accounts") == StepStatus.DONE
    assert engine.current_step() == "side-quest"
    events = [r["event"] for r in read_records(again.audit.path)]
    assert events[0] == "run.started" and "run.resumed" in events
    assert verify(again.audit.path).ok


def test_wrong_account_is_caught_before_any_action(aws: None, tmp_path: Path) -> None:
    runbook = book()
    runbook["accounts"]["target"]["account_id"] = "222222222222"  # moto says 123456789012
    runtime = Runtime.open(write_runbook(tmp_path, runbook))
    engine = Engine(runtime)
    gate = engine.run_gate("verify-accounts")
    assert not gate.passed
    (outcome,) = gate.outcomes
    assert outcome.result.status.value == "fail"
    assert "target" in outcome.result.summary
    assert f"credentials are {TARGET}" in " ".join(outcome.result.details)
    with pytest.raises(GateNotPassed, match="wrong or unreachable account"):
        engine.do("side-quest", confirmed=True)


def test_waiver_needs_a_reason_and_is_audited(aws: None, tmp_path: Path) -> None:
    runbook = book()
    runbook["accounts"]["target"]["account_id"] = "222222222222"
    runtime = Runtime.open(write_runbook(tmp_path, runbook))
    engine = Engine(runtime)
    engine.run_gate("verify-accounts")
    assert engine.status("verify-accounts") == StepStatus.BLOCKED
    assert engine.can_act("verify-accounts")[0] is False
    with pytest.raises(ValueError):
        engine.waive("verify-accounts", "  ")
    engine.waive("verify-accounts", "rehearsal account id differs, ticket CHG-12")
    assert engine.status("verify-accounts") == StepStatus.WAIVED
    assert engine.can_act("verify-accounts")[0] is True
    waived = [r for r in read_records(runtime.audit.path) if r["event"] == "gate.waived"]
    assert waived[0]["details"]["reason"] == "rehearsal account id differs, ticket CHG-12"
    assert waived[0]["details"]["waived_checks"][0]["check"] == "identity.accounts"


def test_intent_is_written_before_the_outcome(aws: None, tmp_path: Path) -> None:
    runtime = Runtime.open(write_runbook(tmp_path, book()))
    engine = Engine(runtime)
    engine.run_gate("verify-accounts")
    engine.do("verify-accounts")
    events = [(r["event"], r["step"]) for r in read_records(runtime.audit.path)]
    intent = events.index(("action.intent", "verify-accounts"))
    assert events[intent + 1] == ("action.outcome", "verify-accounts")
    state = json.loads((tmp_path / ".runbook" / "state.json").read_text())
    assert state["steps"]["verify-accounts"]["status"] == "done"
    assert state["in_flight"] is None


def test_cli_check_json_and_do(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_runbook(tmp_path, book())
    assert main(["check", "-f", str(path), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results[0]["check"] == "identity.accounts"
    assert {"step", "check", "status", "summary", "details", "evidence"} <= set(results[0])
    assert main(["check", "-f", str(path), "--step", "nope"]) == 2
    capsys.readouterr()
    assert main(["do", "deploy", "-f", str(path), "--yes"]) == 1  # earlier step not done
    assert "must be done first" in capsys.readouterr().err
    assert main(["do", "verify-accounts", "-f", str(path), "--yes"]) == 0
    assert main(["do", "deploy", "-f", str(path)]) == 1  # no terminal to confirm on
    assert main(["do", "deploy", "-f", str(path), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "done: operator confirmed: Target stacks deployed" in out


def test_cli_check_fails_on_a_failing_gate(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbook = book()
    runbook["accounts"]["target"]["account_id"] = "555555555555"
    path = write_runbook(tmp_path, runbook)
    assert main(["check", "-f", str(path), "--json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["status"] == "fail" and "target" in result["summary"]
    # Safety rule 6: a waiver cannot talk the engine into acting on the wrong account.
    assert main(["do", "verify-accounts", "-f", str(path), "--yes", "--waive", "rehearsal"]) == 1
    assert "wrong or unreachable account" in capsys.readouterr().err


def test_timed_wait_counts_down_and_can_be_cancelled(aws: None, tmp_path: Path) -> None:
    import threading

    runbook = book()
    runbook["steps"].append(
        {
            "id": "soak",
            "title": "Soak",
            "phase": "after",
            "independent": True,
            "action": {"kind": "wait", "seconds": 2},
        }
    )
    engine = Engine(Runtime.open(write_runbook(tmp_path, runbook)))
    seen: list[tuple[float | None, str]] = []
    outcome = engine.do("soak", progress=lambda f, t: seen.append((f, t)))
    assert outcome.ok and outcome.summary == "waited 2s"
    assert seen[0][1] == "2s left" and seen[-1] == (1.0, "done")
    fractions = [f for f, _t in seen if f is not None]
    assert fractions == sorted(fractions)

    runbook["steps"][-1]["id"] = "soak-again"
    engine = Engine(Runtime.open(write_runbook(tmp_path, runbook)))
    cancel = threading.Event()
    cancel.set()
    outcome = engine.do("soak-again", cancel=cancel)
    assert not outcome.ok and "cancelled" in outcome.summary
