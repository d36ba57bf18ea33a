"""Which approvals hold: another principal's, since the gate said what it says now, fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runbook.approvals import APPROVAL_GIVEN, approvers, drivers, required
from runbook.audit.log import AuditLog
from runbook.audit.verify import read_records
from runbook.model import Runbook
from tests.support.runbooks import base_runbook

ANA = "arn:aws:sts::123456789012:assumed-role/cutover-driver/ana"
BO = "arn:aws:sts::123456789012:assumed-role/cutover-approver/bo"
PASSED = {"dns.ttl": "pass", "identity.accounts": "pass"}


class Log:
    """A real audit log, written as two people would."""

    def __init__(self, path: Path) -> None:
        self.log = AuditLog(path, run_id="r", environment="production", operator={})

    def gate(self, who: str, statuses: dict[str, str], passed: bool = True) -> dict[str, Any]:
        self.log.set_operator(aws_arn=who)
        return self.log.record("gate.finished", step="flip-dns", passed=passed, statuses=statuses)

    def approve(self, who: str, gate: dict[str, Any], at: str | None = None) -> None:
        self.log.set_operator(aws_arn=who)
        self.log.record(
            APPROVAL_GIVEN, step="flip-dns", approver=who, approves_time=at or gate["time"]
        )

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.log.path)


def held(log: Log, actor: str = ANA) -> list[str]:
    return approvers(log.records(), "flip-dns", actor, max_age_s=900)


def test_another_principals_approval_holds_while_the_gate_says_the_same(tmp_path: Path) -> None:
    log = Log(tmp_path / "audit.jsonl")
    gate = log.gate(ANA, PASSED)
    log.approve(BO, gate)
    assert held(log) == [BO]
    log.gate(ANA, PASSED)  # `runbook do` runs the gate again: same result, still approved
    assert held(log) == [BO]
    assert held(log, actor=BO) == []  # the actor's own approval never counts


def test_an_approval_older_than_a_changed_or_failed_gate_does_not_count(tmp_path: Path) -> None:
    log = Log(tmp_path / "audit.jsonl")
    log.approve(BO, log.gate(ANA, PASSED))
    log.gate(ANA, {**PASSED, "dns.ttl": "warn"})
    assert held(log) == []
    log.approve(BO, log.gate(ANA, PASSED))
    log.gate(ANA, {**PASSED, "dns.ttl": "fail"}, passed=False)
    assert held(log) == []


def test_a_confirmed_rollback_voids_the_approvals_given_before_it(tmp_path: Path) -> None:
    log = Log(tmp_path / "audit.jsonl")
    log.approve(BO, log.gate(ANA, PASSED))
    log.log.record("rollback.outcome", confirmed=False)  # not confirmed: DNS may not be back
    assert held(log) == [BO]
    log.log.record("rollback.outcome", confirmed=True)
    assert held(log) == []
    log.approve(BO, log.gate(ANA, PASSED))
    assert held(log) == [BO]


def test_an_approval_of_a_stale_gate_does_not_count(tmp_path: Path) -> None:
    log = Log(tmp_path / "audit.jsonl")
    gate = log.gate(ANA, PASSED)
    log.approve(BO, gate, at=(datetime.now(UTC) - timedelta(minutes=16)).isoformat())
    assert held(log) == []


def test_the_driver_is_who_waits_to_act_not_who_ran_the_checks(tmp_path: Path) -> None:
    log = Log(tmp_path / "audit.jsonl")
    log.gate(ANA, PASSED)
    gate = log.gate(BO, PASSED)  # the approver re-runs the gate to see for himself
    log.log.record("check.result", step="flip-dns", check="dns.ttl")  # reading is not driving
    assert drivers(log.records(), "flip-dns", gate) == set()
    log.log.set_operator(aws_arn=ANA)
    log.log.record("action.refused", step="flip-dns", reason="needs 1 approval")
    assert drivers(log.records(), "flip-dns", gate) == {ANA}
    log.approve(BO, gate)
    assert held(log) == [BO]


def test_a_waiver_in_production_needs_an_approval_on_a_team_run() -> None:
    book = base_runbook()
    book["migration"]["environment"] = "production"
    model = Runbook.model_validate(book)
    assert required(model, "lower-ttl", waived=False, team=True) == 0
    assert required(model, "lower-ttl", waived=True, team=True) == 1
    assert required(model, "lower-ttl", waived=True, team=False) == 0  # nobody else to ask
