"""The types a step action is called with and answers with.

Kept apart from `runbook.actions` (what each kind of action does) so an action
that lives in its own package, such as `runbook.cognito.action`, can use them
without importing `runbook.actions`, which imports it in turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runbook.model import Step
    from runbook.runtime import Runtime

Progress = Callable[[float | None, str], None]


class ActionError(RuntimeError):
    """The action could not be carried out; the message says why."""


class GateNotPassed(RuntimeError):
    """The action is not enabled; nothing was sent."""


class Flag(Protocol):
    def is_set(self) -> bool: ...


class AnyOf:
    """Set as soon as any of its flags is: the app quitting, or the lease taken over."""

    def __init__(self, *flags: Flag) -> None:
        self.flags = flags

    def is_set(self) -> bool:
        return any(flag.is_set() for flag in self.flags)


class ActionInterrupted(Exception):
    """The app is closing during an action that can stop between steps (a wait, a watch).

    Nothing is decided: the engine audits the interruption and leaves the intent
    open, so the next start reconciles it as after a crash (a wait then resumes
    until the same deadline).
    """

    def __init__(self, summary: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(summary)
        self.details = details or {}


@dataclass
class ActionOutcome:
    ok: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionContext:
    runtime: Runtime
    step: Step
    confirmed: bool = False
    progress: Progress = lambda _fraction, _message: None
    cancel: threading.Event = field(default_factory=threading.Event)
    """The operator's stop key: the action ends, failed, and is not resumed."""
    interrupt: Flag = field(default_factory=threading.Event)
    """The app is quitting, or another operator took the lease over: an action that can
    pause raises `ActionInterrupted`."""
    sleep: Callable[[float], None] = time.sleep
    intent_seq: int | None = None
    """The seq of this action's intent record: what happened after it is in the log."""

    def dns_client(self) -> Any:
        return self.runtime.sessions.client(self.runtime.model.dns.account, "route53")
