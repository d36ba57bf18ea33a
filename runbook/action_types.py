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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.model import Step
    from runbook.runtime import Runtime

Progress = Callable[[float | None, str], None]


class ActionError(RuntimeError):
    """The action could not be carried out; the message says why."""


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
    sleep: Callable[[float], None] = time.sleep
    intent_seq: int | None = None
    """The seq of this action's intent record: what happened after it is in the log."""

    def dns_client(self) -> Any:
        return self.runtime.sessions.client(self.runtime.model.dns.account, "route53")
