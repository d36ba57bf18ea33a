"""A run with a timed wait, and a bounded pause for pilots that wait on a worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.support.runbooks import base_runbook, with_steps, write_runbook

WAIT_S = 600


def wait_world(tmp_path: Path, seconds: int = WAIT_S, instructions: str | None = None) -> Path:
    """The identity gate, then `settle`: a timed wait of `seconds`, doable at any time."""
    book = base_runbook()
    wait: dict[str, object] = {
        "id": "settle",
        "title": "Let caches expire",
        "phase": "cutover",
        "independent": True,
        "action": {"kind": "wait", "seconds": seconds},
    }
    if instructions is not None:
        wait["instructions"] = instructions
    return write_runbook(tmp_path, with_steps(book, [book["steps"][0], wait]))


async def until(
    pilot: Pilot[Any], condition: Callable[[], object], what: str, rounds: int = 300
) -> None:
    """Pause until `condition()` holds; the bound stops a hang, it is not a timing."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never happened: {what}")
