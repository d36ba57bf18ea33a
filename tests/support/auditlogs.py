"""Audit logs written as the engine writes them, on a settable clock (report tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from runbook.audit.log import AuditLog


class Clock:
    """A settable clock, so every duration in the report is known exactly."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def check(
    check_id: str, status: str, summary: str, evidence: dict[str, Any], *details: str
) -> dict[str, Any]:
    """A check.result's details, shaped as the engine writes them."""
    return {
        "check": check_id,
        "title": f"title of {check_id}",
        "blocking": True,
        "status": status,
        "summary": summary,
        "details": list(details),
        "evidence": evidence,
        "duration_s": 0.25,
    }


def gate(log: AuditLog, clock: Clock, step: str, checks: list[dict[str, Any]]) -> None:
    log.record("gate.started", step=step, checks=[c["check"] for c in checks])
    for result in checks:
        clock.tick(1)
        log.record("check.result", step=step, **result)
    passed = all(c["status"] in ("pass", "warn") for c in checks)
    statuses = {c["check"]: c["status"] for c in checks}
    log.record("gate.finished", step=step, passed=passed, statuses=statuses)


def action(
    log: AuditLog, clock: Clock, step: str, kind: str, took: float, summary: str, ok: bool = True
) -> None:
    log.record("action.intent", step=step, kind=kind)
    clock.tick(took)
    log.record("action.outcome", step=step, ok=ok, summary=summary)
