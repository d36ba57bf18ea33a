"""Runbooks for the finishing actions, and a crash between an action's intent and outcome.

The crash is in-process: a `Crash` (a BaseException, which the engine does not turn
into a failed outcome) raised from a botocore hook right after the call that changes
AWS, or from the audit write of the outcome. The audit log then holds the intent and
no outcome, and the run state the action in flight, exactly as after a SIGKILL
there (tests/core/test_crash.py kills a real process for the flip).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support.runbooks import base_runbook, write_runbook

VERIFY = {
    "id": "verify-accounts",
    "title": "Verify accounts",
    "phase": "prepare",
    "checks": [{"id": "identity.accounts"}],
    "action": {"kind": "none"},
}


class Crash(BaseException):
    """The process dying: not an Exception, so the engine records no outcome."""


def finish_runbook(
    directory: Path,
    steps: list[dict[str, Any]],
    *,
    zone_id: str = "Z0000000000000000TEST",
    cognito: dict[str, Any] | None = None,
) -> Path:
    """A runbook: the identity gate, then `steps` (each given its title and phase)."""
    book = base_runbook(zone_id=zone_id)
    book["steps"] = [VERIFY] + [
        {"title": s["id"], "phase": "finish", **s} for s in steps if s["id"] != "verify-accounts"
    ]
    if cognito is not None:
        book["cognito"] = cognito
    return write_runbook(directory, book)


def crash_hook(runtime: Runtime, account: str, service: str, operation: str, when: str) -> None:
    """Die `before` or `after` the named call (e.g. `dms`, `StopReplicationTask`).

    Registered on the run's cached client, which copied its session's events when made.
    """
    client = runtime.sessions.client(account, service)
    event_service = client.meta.service_model.service_id.hyphenize()

    def die(**_kwargs: Any) -> None:
        raise Crash(f"{when} {operation}")

    client.meta.events.register(f"{when}-call.{event_service}.{operation}", die)


def crash_after_call(runtime: Runtime, account: str, service: str, operation: str) -> None:
    """Die right after the call that changes AWS returns."""
    crash_hook(runtime, account, service, operation, "after")


def crash_before_outcome(runtime: Runtime) -> None:
    """Die when the engine writes the action's outcome: the change is made, not recorded."""
    original = runtime.audit.record

    def record(event: str, **kwargs: Any) -> dict[str, Any]:
        if event == "action.outcome":
            raise Crash(event)
        return original(event, **kwargs)

    runtime.audit.record = record  # type: ignore[method-assign]


def reopen(path: Path) -> tuple[Runtime, Engine]:
    runtime = Runtime.open(path)
    return runtime, Engine(runtime)
