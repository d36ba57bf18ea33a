"""What a precheck is: metadata, parameters, a result, and the context it reads.

A check is a class in its own module under `checks/`; its id is its module path
below `checks` (`checks/dns/ttl.py` is `dns.ttl`). The registry validates that
at load; the runner turns anything a check raises into an `error` result.
"""

from __future__ import annotations

import enum
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.formatting import one_line, readable_lines

if TYPE_CHECKING:
    from runbook.aws.session import SessionFactory
    from runbook.model import Runbook
    from runbook.state import RunState


EMULATOR_ENV = "RUNBOOK_EMULATOR"


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


class CheckResult(BaseModel):
    """What a check found: one line, the details, and JSON evidence."""

    model_config = ConfigDict(frozen=True)

    status: Status
    summary: str
    details: list[str] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _one_line_summary(cls, data: Any) -> Any:
        """The summary is one line wherever it came from; the rest goes to details."""
        if not isinstance(data, dict) or not isinstance(data.get("summary"), str):
            return data
        summary, overflow = one_line(data["summary"])
        details: list[Any] = []
        for item in data.get("details") or []:
            details += readable_lines(item) if isinstance(item, str) else [item]
        return {**data, "summary": summary, "details": overflow + details}

    @classmethod
    def passed(cls, summary: str, details: list[str] | None = None, **evidence: Any) -> CheckResult:
        return cls(status=Status.PASS, summary=summary, details=details or [], evidence=evidence)

    @classmethod
    def warned(cls, summary: str, details: list[str] | None = None, **evidence: Any) -> CheckResult:
        return cls(status=Status.WARN, summary=summary, details=details or [], evidence=evidence)

    @classmethod
    def failed(cls, summary: str, details: list[str] | None = None, **evidence: Any) -> CheckResult:
        return cls(status=Status.FAIL, summary=summary, details=details or [], evidence=evidence)

    @classmethod
    def errored(
        cls, summary: str, details: list[str] | None = None, **evidence: Any
    ) -> CheckResult:
        return cls(status=Status.ERROR, summary=summary, details=details or [], evidence=evidence)

    @classmethod
    def skipped(
        cls, summary: str, details: list[str] | None = None, **evidence: Any
    ) -> CheckResult:
        return cls(status=Status.SKIPPED, summary=summary, details=details or [], evidence=evidence)


class CheckMeta(BaseModel):
    """Declared metadata, validated when the check is registered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
    title: str = Field(min_length=1)
    account: Literal["source", "target", "dns", "both", "none"]
    blocking: bool = True
    severity: Literal["critical", "high", "medium", "low"] = "high"
    iam_actions: tuple[str, ...] = ()
    remediation: str = Field(min_length=1)
    live: bool = False
    """Watches a draining metric: while its step is open, it is re-run on a timer."""
    proves_identity: bool = False
    """Safety rule 6: no action is allowed in a process until this check has passed."""


class NoParams(BaseModel):
    """For checks that take no parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=BaseModel)


@dataclass
class CheckContext:
    """What a check may read: the runbook, AWS through the factory, the run so far."""

    runbook: Runbook
    sessions: SessionFactory
    state_dir: Path
    step_id: str | None = None
    state: RunState | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    emulated: bool = field(default_factory=lambda: os.environ.get(EMULATOR_ENV) == "1")
    """True against the embedded emulator: checks whose API it lacks return `skipped`."""

    def client(self, account: str, service: str) -> Any:
        return self.sessions.client(account, service)


class Check(ABC, Generic[P]):
    """Base class of every precheck. Subclass as `class X(Check[XParams])`."""

    meta: ClassVar[CheckMeta]
    params_model: ClassVar[type[BaseModel]] = NoParams

    @abstractmethod
    def run(self, ctx: CheckContext, params: P) -> CheckResult:
        """Read, never write; return a result. Exceptions become `error` results."""
