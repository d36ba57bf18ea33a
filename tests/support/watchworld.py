"""A flipped run with a watch step after the flip, and criteria the tests can steer.

`ScriptedCriterion` answers, call after call, the statuses its `script`
parameter lists (the last one repeats): the first call is the gate the engine
runs before the action, the next ones are the watch's rounds. Once `trip(name)`
is called it fails, whatever its script says. Its evidence
carries a `series` and a threshold, as the real criteria's does.
"""

from __future__ import annotations

import threading
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, Status
from runbook.registry import CheckEntry, CheckRegistry
from tests.support.dnsworld import walked_run

WATCH_STEP = "watch-after-flip"
FLIPPED = ("verify-accounts", "lower-ttl", "flip-dns")


class ScriptParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    script: list[str]
    threshold: float = 95.0


_calls: Counter[str] = Counter()
_tripped: set[str] = set()
_lock = threading.Lock()


class ScriptedCriterion(Check[ScriptParams]):
    meta = CheckMeta(
        id="test.scripted",
        title="A criterion whose answers the test wrote",
        account="none",
        remediation="none",
    )
    params_model = ScriptParams

    def run(self, ctx: CheckContext, params: ScriptParams) -> CheckResult:
        with _lock:
            call = _calls[params.name]
            _calls[params.name] += 1
            tripped = params.name in _tripped
        status = Status(params.script[min(call, len(params.script) - 1)])
        if tripped:
            status = Status.FAIL
        value = 99.0 if status in (Status.PASS, Status.WARN) else 80.0
        return CheckResult(
            status=status,
            summary=f"{params.name} call {call}: {value:g} % ({status.value})",
            evidence={"series": [[f"t{n}", 99.0] for n in range(call)] + [["now", value]]},
        )


def calls(name: str) -> int:
    return _calls[name]


def trip(name: str) -> None:
    """From now on the criterion `name` fails (the metric crossed its threshold)."""
    with _lock:
        _tripped.add(name)


def registry() -> CheckRegistry:
    """The built-in checks and the scripted criterion."""
    found = CheckRegistry.discover(plugins=False)
    found.entries["test.scripted"] = CheckEntry(
        "test.scripted", "test", __name__, ScriptedCriterion
    )
    return found


def criterion(name: str, *script: str, blocking: bool | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": "test.scripted", "params": {"name": name, "script": list(script)}}
    if blocking is not None:
        ref["blocking"] = blocking
    return ref


def add_watch_step(path: Path, action: dict[str, Any], checks: list[dict[str, Any]]) -> None:
    """Append the watch step to a runbook on disk (a step added later is simply pending)."""
    book = tomllib.loads(path.read_text(encoding="utf-8"))
    book["steps"].append(
        {
            "id": WATCH_STEP,
            "title": "Watch the target after the flip",
            "phase": "after",
            "checks": checks,
            "action": {"kind": "watch", **action},
        }
    )
    path.write_text(tomli_w.dumps(book), encoding="utf-8")


def flipped_run_with_watch(
    directory: Path, action: dict[str, Any], checks: list[dict[str, Any]]
) -> tuple[Path, str]:
    """A run flipped to the target, the watch step next: (runbook path, zone)."""
    path, zone = walked_run(directory, FLIPPED)
    add_watch_step(path, action, checks)
    return path, zone
