"""What every request factory reads: the runbook, its checks' parameters, the evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from runbook.handoff.evidence import Evidence
from runbook.handoff.model import Status, Verification
from runbook.model import Account, Runbook, Step

_REENABLE = re.compile(r"re-?enable|grant[\w -]*writes|writes[\w -]*back", re.IGNORECASE)
_DECOMMISSION = re.compile(r"decommission", re.IGNORECASE)


@dataclass(frozen=True)
class Context:
    model: Runbook
    params: dict[tuple[str, int], BaseModel]
    evidence: Evidence

    @property
    def source(self) -> Account:
        return self.model.accounts.source

    @property
    def target_id(self) -> str:
        return self.model.accounts.target.account_id

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """An ARN in the source account (`<...>` parts stay for the owner to fill in)."""
        region = self.source.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.source.account_id}:{resource}"

    def refs(self, check: str) -> list[tuple[Step, Any]]:
        """(step, parsed params) for every use of `check`, in runbook order."""
        found = []
        for step in self.model.steps:
            for index, ref in enumerate(step.checks):
                if ref.id == check:
                    found.append((step, self.params.get((step.id, index))))
        return found

    def first_step(self, check: str) -> str | None:
        refs = self.refs(check)
        return refs[0][0].id if refs else None

    def verify(self, check: str, step: str | None, expect: str = "pass") -> Verification:
        return Verification(check=check, step=step, expect=expect)

    def status(self, verification: Verification) -> Status | None:
        return self.evidence.status(verification.check, verification.step)

    def step_matching(self, pattern: re.Pattern[str]) -> Step | None:
        return next(
            (s for s in self.model.steps if pattern.search(s.id) or pattern.search(s.title)),
            None,
        )

    @property
    def reenable_step(self) -> Step | None:
        """The step that offers re-enabling writes after a rollback, if the runbook has one."""
        flagged = next((s for s in self.model.steps if s.after_rollback), None)
        return flagged or self.step_matching(_REENABLE)

    @property
    def decommission_step(self) -> Step | None:
        return self.step_matching(_DECOMMISSION)


def param(params: Any, name: str, default: Any = None) -> Any:
    """A check parameter by name (runbook/ never imports the checks' models)."""
    value = getattr(params, name, default)
    return default if value is None else value
