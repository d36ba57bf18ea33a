"""The watch in the app: follow `watch.json`, raise a breach on every screen, draw the panel.

`WatchFollower` is mixed into the app. Its worker-side `follow_watch` reads the
watch's view whenever the run's files change (the app's own watch and one run
by `runbook do` in another shell alike) and posts `WatchObserved`, and
`WatchBreached` for a breach it has not seen before. The breach opens
`BreachScreen` over whatever screen is open, and the run header keeps saying
so on every screen until DNS is rolled back (or a new watch starts).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from runbook.formatting import duration, parse_time
from screens.contract import runbook_app
from screens.messages import WatchBreached, WatchObserved
from screens.widgets import badge

if TYPE_CHECKING:
    from textual.app import App
    from textual.message import Message

    from runbook.runtime import Runtime
    from runbook.watch import Criterion, WatchView

HISTORY_SHOWN = 40  # rounds of status history on a criterion's line


class WatchFollower:
    """Mixed into the app: the watch's view and any open breach, written on the event loop."""

    runtime: Runtime | None
    watch_view: WatchView | None = None  # not `watch`: Textual's DOMNode.watch is a method
    breach: dict[str, Any] | None = None
    _breach_seen: int | None = None  # worker side, under _watch_lock
    _watch_baseline = False
    _watch_lock = threading.Lock()

    if TYPE_CHECKING:  # the App's own, which this is mixed into

        def post_message(self, message: Message) -> bool: ...

    def follow_watch(self) -> None:
        """From a worker: post what `watch.json` says now; a new breach is an alert."""
        from runbook.watch import read_view

        if self.runtime is None:
            return
        view = read_view(self.runtime.state_dir)
        if view is None:
            return
        seq = view.breach.get("seq") if view.breach else None
        with self._watch_lock:
            new = seq is not None and seq != self._breach_seen
            first = not self._watch_baseline  # at start-up: an old breach is shown, not alerted
            self._watch_baseline = True
            if seq is not None:
                self._breach_seen = seq
        self.post_message(WatchObserved(view))
        if new:
            self.post_message(WatchBreached(view, alert=not first))

    def active_breach(self) -> dict[str, Any] | None:
        """The breach still standing: not followed by a confirmed rollback, nor a new watch."""
        if self.breach is None or self.runtime is None:
            return None
        at = parse_time(str(self.breach.get("at")))
        dns = self.runtime.state.dns
        rolled = dns.rolled_back_at if dns.rollback_confirmed else None
        if at is not None and rolled is not None and rolled >= at:
            return None
        latest = self.watch_view
        if latest is not None and at is not None and latest.started_at > at:
            return None
        return self.breach

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Leaving stops a watch in progress (recorded as stopped), else the exit would wait
        for the rest of its window: the event loop joins its worker threads."""
        app = runbook_app(self)
        engine, acting = app.engine, app.acting
        kind = engine.rt.model.step(acting).action.kind if engine and acting else None
        if kind == "watch":
            app.cancel_action()
        super().exit(*args, **kwargs)  # type: ignore[misc]

    # --- handlers (event loop) ------------------------------------------------

    def on_watch_observed(self, message: WatchObserved) -> None:
        self.watch_view = message.view
        runbook_app(self).broadcast(message.view.step)

    def on_watch_breached(self, message: WatchBreached) -> None:
        from screens.breach import BreachScreen

        view = message.view
        assert view.breach is not None
        self.breach = {
            **view.breach,
            "step": view.step,
            "on_breach": view.on_breach,
            "rolled_back": view.rolled_back,
            "criteria": {c.key: c for c in view.criteria},
        }
        runbook_app(self).broadcast()
        app = cast("App[Any]", self)
        if message.alert and not isinstance(app.screen, BreachScreen):
            app.push_screen(BreachScreen(self.breach))


def criterion_line(criterion: Criterion) -> Text:
    text = Text()
    text.append_text(badge(criterion.status))
    text.append(f"  {criterion.key}", style="bold")
    if not criterion.blocking:
        text.append(" (advisory)", style="dim")
    text.append(f"  {criterion.summary}\n")
    shown = ", ".join(f"{k} {v}" for k, v in criterion.thresholds.items())
    if shown:
        text.append(f"    criteria: {shown}\n", style="dim")
    history = "".join(
        "✓" if s == "pass" else "!" if s == "warn" else "-" if s == "skipped" else "✗"
        for s in criterion.history[-HISTORY_SHOWN:]
    )
    text.append(f"    rounds: {history}", style="dim")
    return text


class WatchPanel(Vertical):
    """The watch on its step screen: countdown, and per criterion its status and sparklines."""

    DEFAULT_CSS = """
    WatchPanel { height: auto; margin: 1 0; border-left: thick $warning; padding: 0 1; }
    WatchPanel Sparkline { height: 2; margin-bottom: 1; }
    WatchPanel #watch-countdown { text-style: bold; }
    """

    def __init__(self, step_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_id = step_id
        self._shape: list[tuple[str, list[str]]] | None = None
        self._rows: list[tuple[Static, list[tuple[Static, Sparkline]]]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="watch-countdown")

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(1.0, self.refresh_view)  # the countdown moves between rounds

    def view(self) -> WatchView | None:
        from runbook.watch import WatchView

        view = runbook_app(self).watch_view
        return view if isinstance(view, WatchView) and view.step == self.step_id else None

    def refresh_view(self) -> None:
        from runbook.state import utcnow

        view = self.view()
        countdown = self.query_one("#watch-countdown", Static)
        if view is None:
            countdown.update("Not watched yet: the action starts the watch.")
            return
        countdown.update(countdown_text(view, utcnow()))
        shape = [(c.key, list(c.series)) for c in view.criteria]
        if shape != self._shape:
            self._rebuild(view.criteria)
            self._shape = shape
        for criterion, (line, sparks) in zip(view.criteria, self._rows, strict=True):
            line.update(criterion_line(criterion))
            for (metric, values), (label, spark) in zip(
                criterion.series.items(), sparks, strict=True
            ):
                spark.data = values
                label.update(
                    f"    {metric}: now {values[-1]:g}, min {min(values):g}, max {max(values):g}"
                )

    def _rebuild(self, criteria: list[Criterion]) -> None:
        for _line, sparks in self._rows:
            _line.remove()
            for label, spark in sparks:
                label.remove()
                spark.remove()
        self._rows = []
        widgets: list[Static | Sparkline] = []
        for criterion in criteria:
            line = Static()
            sparks = [(Static(), Sparkline(values)) for values in criterion.series.values()]
            self._rows.append((line, sparks))
            widgets += [line, *(w for pair in sparks for w in pair)]
        if widgets:
            self.mount_all(widgets)


def countdown_text(view: WatchView, now: datetime) -> Text:
    text = Text()
    window = duration(view.window_s)
    if view.verdict == "watching":
        left = duration(view.remaining_s(now))
        text.append(f"Watching: {left} left of {window}", style="bold yellow")
        text.append(f" · round {view.round}, every {duration(view.interval_s)}")
    elif view.verdict == "breached":
        text.append(f"BREACHED in round {view.round}", style="bold white on red")
        if view.breach:
            text.append(f"  {view.breach.get('summary')}")
        if view.rolled_back is not None:
            done = "rolled back" if view.rolled_back else "rollback NOT confirmed"
            text.append(f"\non_breach = rollback: {done}", style="bold")
    elif view.verdict == "held":
        text.append(f"Every criterion held for {window} ({view.round} rounds)", style="bold green")
    else:
        text.append(f"Watch ended: {view.verdict} after {view.round} rounds", style="bold")
    text.append(f" · on breach: {view.on_breach}", style="dim")
    return text
