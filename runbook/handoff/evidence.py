"""The latest result of each check, read from the end of the run's audit log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.audit.record import EventName
from runbook.audit.verify import records_backward
from runbook.handoff.model import Status


@dataclass
class Evidence:
    """Newest `check.result` per (step, check), and per check whatever the step."""

    by_step: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    by_check: dict[str, dict[str, Any]] = field(default_factory=dict)
    times: dict[tuple[str, str], str] = field(default_factory=dict)

    def result(self, check: str, step: str | None = None) -> dict[str, Any]:
        """The check's details (status, summary, evidence), {} if it never ran."""
        if step is not None and (step, check) in self.by_step:
            return self.by_step[(step, check)]
        return self.by_check.get(check, {})

    def of(self, check: str, step: str | None = None) -> dict[str, Any]:
        """The check's `evidence` object, {} if it never ran."""
        found = self.result(check, step).get("evidence")
        return found if isinstance(found, dict) else {}

    def status(self, check: str, step: str | None) -> Status | None:
        if step is None or (step, check) not in self.by_step:
            return None
        details = self.by_step[(step, check)]
        return Status(
            status=str(details.get("status") or "?"),
            time=self.times.get((step, check), ""),
            summary=str(details.get("summary") or ""),
        )


def read_evidence(path: Path, wanted: Iterable[tuple[str, str]]) -> Evidence:
    """Walk the log backwards until every wanted (step, check) has its newest result."""
    found = Evidence()
    if not path.exists():
        return found
    missing = set(wanted)
    for record in records_backward(path):
        if record.get("event") != EventName.CHECK_RESULT:
            continue
        details = record.get("details")
        if not isinstance(details, dict):
            continue
        key = (str(record.get("step")), str(details.get("check")))
        if key not in found.by_step:
            found.by_step[key] = details
            found.times[key] = str(record.get("time") or "")
        found.by_check.setdefault(key[1], details)
        missing.discard(key)
        if not missing:
            break
    return found
