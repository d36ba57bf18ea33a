"""Run state on disk: which steps are done or waived, and the DNS milestones.

Written atomically (temp file, fsync, rename, fsync of the directory) so a
crash at any instant leaves the old or the new state, never a torn one.
"""

from __future__ import annotations

import enum
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from runbook.durable import atomic_write


class StepStatus(enum.StrEnum):
    """A step's status: stored in the state file (pending, done, failed, waived) or live."""

    PENDING = "pending"
    CHECKING = "checking"
    BLOCKED = "blocked"
    READY = "ready"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    WAIVED = "waived"


def utcnow() -> datetime:
    return datetime.now(UTC)


class StepState(BaseModel):
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    waiver: str | None = None
    note: str | None = None


class DnsState(BaseModel):
    ttl_lowered_at: datetime | None = None
    previous_ttl: int | None = None
    flipped_at: datetime | None = None
    rolled_back_at: datetime | None = None
    rollback_confirmed: bool | None = None


class RunState(BaseModel):
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: datetime = Field(default_factory=utcnow)
    steps: dict[str, StepState] = Field(default_factory=dict)
    dns: DnsState = Field(default_factory=DnsState)
    in_flight: dict[str, Any] | None = Field(
        default=None, description="An action whose outcome is not yet recorded."
    )

    def step(self, step_id: str) -> StepState:
        return self.steps.setdefault(step_id, StepState())


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> RunState:
        if not self.path.exists():
            return RunState()
        return RunState.model_validate(json.loads(self.path.read_bytes()))

    def save(self, state: RunState) -> None:
        atomic_write(self.path, state.model_dump_json(indent=2).encode("utf-8"))
