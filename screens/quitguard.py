"""Quitting while something runs: ask first, then close without leaving a blank screen.

An action runs in a thread worker, and the event loop joins its worker threads
on the way out: an `exit()` during a ten-minute wait left the terminal blank
until the wait ended. `QuitGuard` (mixed into the app) asks first; on yes it sets
`quitting`, which a wait or a watch answers by stopping undecided (the engine
audits the interruption and leaves it for the next start to reconcile; a wait
then resumes until the same deadline). An action that cannot stop halfway (a
flip, a rollback) is let finish, with the app still drawing, and the app closes
as soon as its worker ends.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from textual.binding import Binding
from textual.worker import Worker, WorkerState

from runbook.formatting import duration
from screens.contract import runbook_app

if TYPE_CHECKING:
    from textual.app import App

DEMO_QUIT = (
    "Quit the rehearsal? The emulator stops with the app: its world is gone, and this run "
    "cannot be resumed (`runbook demo --serve` keeps a world between sessions)."
)
QUIT_BINDING = Binding(
    "q,ctrl+c", "quit", "Quit", id="quit", tooltip="Leave (asks while work runs)"
)
GUARDED_GROUPS = ("action", "rollback")  # workers whose end the app waits for before closing
PAUSABLE = ("wait", "watch")  # action kinds that stop at once when the app quits


class QuitGuard:
    """Mixed into the app, before `App`: its `action_quit` replaces Textual's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quitting = threading.Event()  # read by the action's worker thread
        self.quit_pending = False

    @property
    def _app(self) -> App[Any]:
        return cast("App[Any]", self)

    def running_work(self) -> list[Worker[Any]]:
        return [w for w in self._app.workers if w.group in GUARDED_GROUPS and not w.is_finished]

    async def action_quit(self) -> None:
        """`q`, `ctrl+c`, `ctrl+q` and the palette: leave, asking first while work runs."""
        from screens.confirm import ConfirmScreen

        app = self._app
        if not self.running_work():
            demo = runbook_app(self).demo
            if demo is None or not demo.world_ends_on_quit:
                app.exit()
                return
            if isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "quit":
                return  # already asking

            def leave(yes: bool | None) -> None:
                if yes:
                    app.exit()

            app.push_screen(ConfirmScreen(DEMO_QUIT, yes_label="Quit", purpose="quit"), leave)
            return
        if self.quit_pending:
            app.notify("Quitting as soon as the running work has stopped…", timeout=5)
            return
        if isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "quit":
            return  # already asking
        question, yes_label = self.quit_question()

        def answered(yes: bool | None) -> None:
            if yes:
                self.quit_when_idle()

        app.push_screen(ConfirmScreen(question, yes_label=yes_label, purpose="quit"), answered)

    def quit_question(self) -> tuple[str, str]:
        rb = runbook_app(self)
        engine, step_id = rb.engine, rb.acting
        if engine is None or step_id is None:
            return (
                "A DNS rollback is running: quit when it has finished?\n\n"
                "It is not stopped halfway; the app closes once its outcome is recorded.",
                "Quit when done",
            )
        step = engine.rt.model.step(step_id)
        kind = step.action.kind
        if kind == "wait":
            from runbook.state import utcnow

            deadline = engine.rt.state.step(step_id).wait_deadline
            left = (
                f", {duration((deadline - utcnow()).total_seconds())} left"
                if deadline is not None
                else ""
            )
            return (
                f"A wait is running ({step.title}{left}): quit anyway? The run resumes "
                "next time, and the wait with the time it has left.",
                "Quit",
            )
        if kind == "watch":
            return (
                f"A watch is running ({step.title}): quit anyway? It stops unfinished; the "
                "run resumes next time, and the watch then holds for a whole window.",
                "Quit",
            )
        return (
            f"{step.title} is running ({kind}): quit when it has finished?\n\n"
            "It is not stopped halfway; the app closes once its outcome is recorded.",
            "Quit when done",
        )

    def quit_when_idle(self) -> None:
        self.quit_pending = True
        self.quitting.set()
        if not self.running_work():
            self._app.exit()
            return
        rb = runbook_app(self)
        kind = rb.engine.rt.model.step(rb.acting).action.kind if rb.engine and rb.acting else ""
        what = "Stopping the " + kind if kind in PAUSABLE else "Waiting for the running work"
        self._app.notify(f"{what}; the app closes when it has.", title="Quitting", timeout=30)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if not self.quit_pending or event.worker.group not in GUARDED_GROUPS:
            return
        ended = event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
        if ended and not self.running_work():
            self._app.exit()
