"""Run state on disk: which steps are done or waived, and the DNS milestones.

Written atomically (temp file, fsync, rename, fsync of the directory) so a
crash at any instant leaves the old or the new state, never a torn one, and
changed read-modify-write under a lock, so one process never overwrites
another's newer state with a stale copy.
"""

from __future__ import annotations

import contextlib
import enum
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from runbook.durable import atomic_write, file_lock


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
    SKIPPED = "skipped"  # live only: an after-rollback step while no rollback calls for it


def utcnow() -> datetime:
    return datetime.now(UTC)


class StepState(BaseModel):
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    waiver: str | None = None
    note: str | None = None
    waived_checks: dict[str, str] = Field(default_factory=dict)
    """Each check the last waiver covered, with its reason. Kept once the step is done
    (`waiver` is cleared then), so the step still reads as done under a waiver."""
    wait_deadline: datetime | None = None
    """When this step's timed wait ends. Kept when the wait is interrupted (quit, crash)
    so it resumes with the same deadline; cleared when it ends or is stopped."""


class DnsState(BaseModel):
    ttl_lowered_at: datetime | None = None
    previous_ttl: int | None = None
    ttl_found_low: bool = False
    """The lower-TTL step found the TTL already low: `ttl_lowered_at` is when it looked."""
    flipped_at: datetime | None = None
    rolled_back_at: datetime | None = None
    rollback_confirmed: bool | None = None


class AuditHead(BaseModel):
    """The newest audit record a process saw when it last changed the state."""

    seq: int
    hash: str


class RunState(BaseModel):
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: datetime = Field(default_factory=utcnow)
    steps: dict[str, StepState] = Field(default_factory=dict)
    dns: DnsState = Field(default_factory=DnsState)
    in_flight: dict[str, Any] | None = Field(
        default=None, description="An action whose outcome is not yet recorded."
    )
    audit_head: AuditHead | None = Field(
        default=None,
        description="Cross-checks the log: a shorter or rewritten log is caught on open.",
    )

    def step(self, step_id: str) -> StepState:
        return self.steps.setdefault(step_id, StepState())


class RemoteState(Protocol):
    """A run backend's copy of the state (`runbook.backend`); the local file is its mirror."""

    def exists(self) -> bool: ...

    def load(self, local: RunState) -> RunState: ...

    def update(self, local: RunState, change: Callable[[RunState], object]) -> RunState: ...


class StateStore:
    """state.json, shared by every process of the run.

    Changes are read-modify-write under an exclusive lock on `state.json.lock`
    (the state file itself is replaced by rename, so it cannot carry the lock):
    the change is applied to the copy just read, never to an older one in memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.RLock()
        self.remote: RemoteState | None = None  # set by a run backend; None: the file alone

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.lock_path, self._thread_lock)

    def update(self, change: Callable[[RunState], object]) -> RunState:
        """Apply `change` to the state as it is on disk now, and write it atomically."""
        with self.locked():
            fresh = self._load_local()
            if self.remote is not None:
                fresh = self.remote.update(fresh, change)
            else:
                change(fresh)
            self.save(fresh)
            return fresh

    def exists(self) -> bool:
        return self.path.exists() or (self.remote is not None and self.remote.exists())

    def load(self) -> RunState:
        local = self._load_local()
        return self.remote.load(local) if self.remote is not None else local

    def _load_local(self) -> RunState:
        if not self.path.exists():
            return RunState()
        return RunState.model_validate(json.loads(self.path.read_bytes()))

    def save(self, state: RunState) -> None:
        atomic_write(self.path, state.model_dump_json(indent=2).encode("utf-8"))
