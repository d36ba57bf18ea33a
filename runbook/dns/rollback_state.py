"""What a rollback changes in the run state, as data, and writing it without the model.

`rollback_patch` is the one statement of the change (when, whether confirmed,
and on a confirmed rollback the flip cleared and the steps to do again set
back to pending). `apply_patch` applies it to the app's `RunState` or to the
state file's JSON alike, so `runbook rollback` can record it through
`JsonStateFile` without building pydantic models: same lock as `StateStore`,
same atomic write, the rest of the file kept as it was.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.durable import atomic_write, file_lock

PENDING = "pending"  # runbook.state.StepStatus.PENDING, as stored
ROLLED_BACK_NOTE = "rolled back"


def rollback_patch(confirmed: bool, reset_steps: tuple[str, ...], at: datetime) -> dict[str, Any]:
    """The state change of a rollback, in the state file's JSON form."""
    dns: dict[str, Any] = {"rolled_back_at": stamp(at), "rollback_confirmed": confirmed}
    patch: dict[str, Any] = {"dns": dns}
    if confirmed:
        dns["flipped_at"] = None
        # A waiver given before the rollback waived a gate of a world that has changed:
        # each step done again needs its gate to pass again, or a new waiver (audited).
        again = {"status": PENDING, "note": ROLLED_BACK_NOTE, "waiver": None}
        patch["steps"] = {s: dict(again) for s in reset_steps}
    return patch


def stamp(at: datetime) -> str:
    """A time as pydantic writes it in the state file (`...Z`)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def merge(into: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Patch objects key by key; anything else is replaced."""
    for key, value in patch.items():
        if isinstance(value, Mapping):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            merge(into[key], value)
        else:
            into[key] = value


def apply_patch(state: Any, patch: Mapping[str, Any]) -> None:
    """Apply in place to the state file's JSON (a dict) or to a `RunState`."""
    if isinstance(state, dict):
        merge(state, patch)
        return
    data = state.model_dump(mode="json")
    merge(data, patch)
    fresh = type(state).model_validate(data)
    for name in type(state).model_fields:
        setattr(state, name, getattr(fresh, name))


class JsonStateFile:
    """state.json read and changed as JSON: `StateStore`'s lock and atomic replace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")  # StateStore's lock file
        self._thread_lock = threading.Lock()

    def read(self) -> dict[str, Any]:
        """The state as JSON; FileNotFoundError, OSError or ValueError if unusable."""
        data = json.loads(self.path.read_bytes())
        _check(data)
        return data

    def update(self, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
        """Apply `change` to the state as it is on disk now, and write it atomically."""
        with file_lock(self.lock_path, self._thread_lock):
            data = self.read()
            change(data)
            _check(data)
            text = json.dumps(data, indent=2, ensure_ascii=False)
            atomic_write(self.path, text.encode("utf-8"))
            return data


def _check(data: Any) -> None:
    """What the patch touches must have the state's shape (pydantic would refuse the rest)."""
    if not isinstance(data, dict):
        raise ValueError("the state is not a JSON object")
    if not isinstance(data.get("run_id", ""), str):
        raise ValueError("run_id is not a string")
    if not isinstance(data.get("dns", {}), dict):
        raise ValueError("dns is not an object")
    steps = data.get("steps", {})
    if not isinstance(steps, dict) or not all(isinstance(s, dict) for s in steps.values()):
        raise ValueError("steps is not an object of steps")
