"""The app's one clock: when each check last ran, and a tick that ages what is on screen.

`RunClock` is mixed into the app. Textual calls a message handler of every
class in the app's MRO, so `on_check_finished` here runs beside the app's own
without the app having to call it. One timer for the whole app: each second it
redraws the widgets of the open screen that show an age ("checked 4s ago",
"flipped 3m 07s ago") or the audit head, never the screens stacked beneath it.
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING, cast

from textual.app import ScreenStackError

from runbook.formatting import duration
from screens.messages import CheckFinished
from screens.widgets import Ticks

if TYPE_CHECKING:
    from textual.app import App

TICK_S = 1.0


def age(seconds: float) -> str:
    """`0s ago`, `42s ago`, `2m 04s ago`: whole seconds, an age is not a measurement."""
    whole = max(int(seconds), 0)
    return f"{whole}s ago" if whole < 60 else f"{duration(whole)} ago"


class RunClock:
    """Mixed into the app: the time (monotonic) each check of each step last reported."""

    _checked: dict[tuple[str, str], float] | None = None

    def on_mount(self) -> None:
        cast("App[object]", self).set_interval(TICK_S, self.tick)

    def on_check_finished(self, message: CheckFinished) -> None:
        if self._checked is None:
            self._checked = {}
        self._checked[(message.step_id, message.outcome.check)] = monotonic()

    def check_age(self, step_id: str, check: str) -> float | None:
        """Seconds since `check` of `step_id` last reported in this app, if it has."""
        at = (self._checked or {}).get((step_id, check))
        return None if at is None else monotonic() - at

    def tick(self) -> None:
        try:
            screen = cast("App[object]", self).screen
        except ScreenStackError:  # no screen yet, or shutting down: nothing to age
            return
        for node in (screen, *screen.walk_children()):
            if isinstance(node, Ticks):
                node.tick()
