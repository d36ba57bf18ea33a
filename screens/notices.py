"""The end of a wait is announced: the terminal bell and a notice.

A drain or a timed wait can take many minutes; the operator looks away. When
one ends the app rings the bell (most terminals flash or mark the tab) and says
what is next. `Notices` is mixed into the app; its handlers run after the
app's own for the same messages (Textual calls each class's handler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from screens.contract import runbook_app
from screens.messages import ActionFinished, GateFinished

if TYPE_CHECKING:
    from textual.app import App

ANNOUNCED_ACTIONS = ("wait", "watch")  # actions that are a wait for the operator


class Notices:
    """Mixed into the app: bell and notice when a live gate turns to pass or a wait ends."""

    _gate_passed: dict[str, bool] | None = None  # per step, its last gate; event loop only

    def _announce(self, text: str, title: str) -> None:
        app = cast("App[Any]", self)
        app.bell()
        app.notify(text, title=title, timeout=20)

    def _next_step(self) -> str:
        engine = runbook_app(self).engine
        current = engine.current_step() if engine is not None else None
        if engine is None or current is None:
            return "every step is done"
        return f"next: {engine.rt.model.step(current).title} (n opens it)"

    def on_gate_finished(self, message: GateFinished) -> None:
        """A gate re-checked on a timer (a drain, CDC lag) that passes now, after not passing."""
        engine = runbook_app(self).engine
        if engine is None:
            return
        if self._gate_passed is None:
            self._gate_passed = {}
        step_id = message.step_id
        before = self._gate_passed.get(step_id)
        self._gate_passed[step_id] = message.gate.passed
        if before is False and message.gate.passed and engine.live_checks(step_id):
            title = engine.rt.model.step(step_id).title
            self._announce(f"{title}: its checks pass now; the action is enabled.", "Ready")

    def on_action_finished(self, message: ActionFinished) -> None:
        engine = runbook_app(self).engine
        if engine is None or not message.outcome.ok:
            return
        step = engine.rt.model.step(message.step_id)
        kind = step.action.kind
        if kind in ANNOUNCED_ACTIONS:
            what = "The wait is over" if kind == "wait" else "The watch held"
            self._announce(f"{step.title} is done; {self._next_step()}", what)
