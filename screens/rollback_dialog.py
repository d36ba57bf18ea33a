"""The rollback question and its outcome: what is sent, and what a rollback does not undo.

Mixed into the app. The question opens at once from the snapshot file and the run state
(the source stays read-only, the target's writes stay there, with the time since the
flip); the users created or changed in the target pool since the flip are counted in a
thread worker (the dialog's preview) and shown when known. The outcome repeats it all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.worker import get_current_worker

from runbook.audit.record import EventName
from screens.messages import RollbackFinished, RollbackProgressed

if TYPE_CHECKING:
    from textual.app import App

    from runbook.dns.aftermath import Aftermath
    from runbook.dns.rollback import RollbackResult
    from runbook.engine import Engine
    from runbook.runtime import Runtime

COUNTED_TITLE = "What the rollback did not undo"


class RollbackDialog:
    """The app's `action_rollback`, and the caveats said with its outcome."""

    runtime: Runtime | None
    engine: Engine | None
    aftermath: Aftermath | None = None  # as last assessed for a rollback question
    rollback_running: bool
    rollback_notes: list[str]
    last_rollback: RollbackResult | None
    is_loading: bool

    if TYPE_CHECKING:  # the app's own, which this is mixed into

        def fetch_shared_snapshot(self) -> bool: ...

        def stop_if_audit_failed(self, exc: BaseException) -> bool: ...

        def broadcast(self, step_id: str | None = None) -> None: ...

        def post_message(self, message: Any) -> bool: ...

        def remember_rollback(self) -> None: ...

    def _as_app(self) -> App[Any]:
        return cast("App[Any]", self)

    def action_rollback(self) -> None:
        if self.runtime is None:
            if self.is_loading:  # ctrl+r in the first frames: asked once the run has loaded
                self.remember_rollback()
            return
        from screens.confirm import ConfirmScreen, rollback_question

        app = self._as_app()
        if isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback":
            return  # already asking
        runtime = self.runtime
        path = runtime.snapshot_path
        if not path.exists():
            if self.fetch_shared_snapshot():  # another machine flipped: its snapshot first
                return
            app.notify(
                "Nothing to roll back: the flip has not taken a snapshot", severity="warning"
            )
            return
        from runbook.dns.aftermath import assess

        state = runtime.state
        # From the state alone on the event loop; the audit log (the flip's time once a
        # rollback cleared it) and the target pool are read by the preview's worker.
        self.aftermath = assess(runtime.model, state, None)
        question = rollback_question(path, self.aftermath)

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_rollback()
            elif yes is False:  # None: closed because its premise changed, not declined
                self._record_declined(runtime, path)

        rolled_back_at = state.dns.rolled_back_at
        engine = self.engine
        taken = _stamp(path)

        def premise() -> str | None:
            if _stamp(path) != taken:
                return "the flip took a new snapshot meanwhile"
            return None if engine is None else engine.changed_since(None, rolled_back_at)

        dialog = ConfirmScreen(
            question,
            yes_label="Roll back",
            purpose="rollback",
            premise=premise,
            preview=self._count_users,
        )
        app.push_screen(dialog, answered)

    # --- the rollback's worker and its reports -----------------------------

    def start_rollback(self) -> None:
        """Roll back in a worker of its own, whatever else is running."""
        if self.runtime is None or self.rollback_running:
            return
        self.rollback_running = True
        self.rollback_notes = []  # this rollback's attempts, shown on the DNS line
        self.broadcast()
        self._rollback()

    @work(
        thread=True,
        group="rollback",
        exclusive=True,
        exit_on_error=False,
        description="Roll back DNS",
    )
    def _rollback(self) -> None:
        from runbook.dns.rollback import RollbackResult

        assert self.runtime is not None
        worker = get_current_worker()

        def attempt(number: int, text: str) -> None:
            self.post_message(RollbackProgressed(number, text))

        try:
            result = self.runtime.rollback(on_attempt=attempt)
        except Exception as exc:
            if self.stop_if_audit_failed(exc):
                return
            result = RollbackResult(False, 0, f"rollback NOT confirmed: {exc}", "")
        if not worker.is_cancelled:
            self.post_message(RollbackFinished(result))

    def on_rollback_progressed(self, message: RollbackProgressed) -> None:
        self.rollback_notes.append(f"attempt {message.attempt}: {message.text}")
        self.broadcast()

    def on_rollback_finished(self, message: RollbackFinished) -> None:
        self.rollback_running = False
        self.last_rollback = message.result
        result = message.result
        if result.confirmed:
            self._as_app().notify(result.message, title="Rollback", timeout=15)
            self.say_aftermath(result)  # what it did not undo
        else:
            self._as_app().notify(
                f"{result.message}\nBy hand: {result.manual_command}",
                title="Rollback NOT confirmed",
                severity="error",
                timeout=120,
            )
        self.broadcast()

    def _record_declined(self, runtime: Runtime, path: Path) -> None:
        """The report counts a rollback the operator was asked and refused (nothing sent);
        fsynced in a worker, off the event loop."""

        def record() -> None:
            try:
                runtime.audit.record(
                    EventName.ROLLBACK_NOT_CONFIRMED, snapshot=str(path), asked_in="app"
                )
            except Exception as exc:
                if not self.stop_if_audit_failed(exc):
                    app.call_from_thread(app.notify, f"declined rollback not recorded: {exc}")

        app = self._as_app()

        app.run_worker(
            record,
            thread=True,
            group="audit",
            exit_on_error=False,
            description="Record a declined rollback",
        )

    def _count_users(self) -> str:
        """In the dialog's worker thread: the target pool's users since the flip."""
        from runbook.dns.aftermath import assess, count_changed_users

        runtime = self.runtime
        assert runtime is not None
        known = assess(runtime.model, runtime.state, runtime.audit.path)
        users = count_changed_users(runtime.sessions, runtime.model, known.flipped_at)
        self.aftermath = replace(known, users=users)  # one assignment: read on the loop
        return users.line()

    def say_aftermath(self, result: RollbackResult) -> None:
        """With a confirmed rollback's outcome: what it did not undo (the count if known)."""
        from runbook.dns.aftermath import assess

        if not result.confirmed or self.runtime is None:
            return
        aftermath = self.aftermath or assess(self.runtime.model, self.runtime.state, None)
        lines = aftermath.caveats()
        lines += aftermath.warnings(asking=False)
        text = "\n".join(lines[1:])
        self._as_app().notify(text, title=COUNTED_TITLE, severity="warning", timeout=60)


def _stamp(path: Path) -> tuple[int, int] | None:
    """The snapshot file as it stands (a flip replaces it): a stat, no read."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)
