"""The runbook's outline, read from its TOML alone: what the app paints first.

Building the validated model (pydantic) costs more than Textual's own start, so
`runbook run` on a terminal paints the step list from this outline, then loads
the run. Nothing here is trusted for anything but display: a file that does not
read as a runbook with steps gives no outline, and the command line then
validates first and reports, as `runbook validate` does.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OutlineStep:
    id: str
    title: str
    phase: str


@dataclass(frozen=True)
class Outline:
    name: str
    environment: str
    steps: tuple[OutlineStep, ...]


ENVIRONMENTS = ("production", "staging", "rehearsal")


def _text(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    return value if isinstance(value, str) and value.strip() else None


def read_outline(path: Path) -> Outline | None:
    """The name, environment and steps as written, or None if they do not read plainly."""
    try:
        document = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    migration = document.get("migration")
    steps = document.get("steps")
    if not isinstance(migration, dict) or not isinstance(steps, list) or not steps:
        return None
    name = _text(migration, "name")
    environment = _text(migration, "environment")
    if name is None or environment is None or environment not in ENVIRONMENTS:
        return None
    outlined: list[OutlineStep] = []
    for step in steps:
        if not isinstance(step, dict):
            return None
        step_id, title, phase = _text(step, "id"), _text(step, "title"), _text(step, "phase")
        if step_id is None or title is None or phase is None:
            return None
        outlined.append(OutlineStep(step_id, title, phase))
    return Outline(name, environment, tuple(outlined))
