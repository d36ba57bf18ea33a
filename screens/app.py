"""The terminal app: owns the engine, runs every AWS call in thread workers.

Workers report back only through the messages in `screens.messages`; the
handlers here run on the event loop, update the app's view of the run and tell
the screens to redraw. Rollback is a priority binding, so it works on every
screen, modals included, and its worker starts whatever else is running.

This module imports neither the engine nor the models at its top: `runbook run`
paints the steps before they load (`screens.loading`), and each method imports
what it uses of them (cached by Python after the first call).
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from runbook.audit.log import AuditWriteError
from screens.approving import Approving
from screens.clock import RunClock
from screens.commands import RunCommands
from screens.contract import DemoHooks
from screens.demo_fixes import DemoFixer
from screens.following import TAKE_OVER_BINDING, RunFollowing
from screens.loading import LOADING_ACTIONS, Loading, LoadingScreen, RunLoaded, RunLoading
from screens.messages import (
    ActionFinished,
    ActionProgressed,
    ActionRefused,
    AuditFailed,
    CheckFinished,
    EngineChanged,
    GateFailed,
    GateFinished,
    GateStarted,
    IdentityChecked,
    RunReconciled,
    WaiverRecorded,
)
from screens.notices import Notices
from screens.plainnotify import PlainNotify
from screens.quitguard import QUIT_BINDING, QuitGuard
from screens.rollback_dialog import RollbackDialog
from screens.rollback_ready import RollbackReady
from screens.watching import WatchFollower
from screens.widgets import ROLLBACK_BINDING

if TYPE_CHECKING:  # the engine and the models are imported after the first paint
    from runbook.dns.rollback import RollbackResult
    from runbook.engine import Engine
    from runbook.runner import CheckOutcome
    from runbook.runtime import Runtime
    from runbook.state import StepStatus
    from runbook.waivers import WaiverRequest
    from screens.settings import AppSettings


class RunbookApp(
    PlainNotify,
    QuitGuard,
    RunCommands,
    RunFollowing,
    Approving,
    WatchFollower,
    RunClock,
    RollbackReady,
    RollbackDialog,
    RunLoading,
    App[None],
    DemoFixer,
    Notices,
):
    TITLE = "runbook"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        TAKE_OVER_BINDING,
        Binding("question_mark,f1", "help", "Help", id="help", tooltip="Every key, with its id"),
        Binding("v", "review", "Audit", id="review", tooltip="Timeline of the audit log"),
        Binding(
            "o",
            "handoff",
            "Source owner",
            id="handoff",
            tooltip="The changes the source account's owner must make, with checks",
            show=False,
        ),
        QUIT_BINDING,
    ]

    def __init__(
        self,
        runtime: Runtime | None = None,
        *,
        review_path: Path | None = None,
        demo: DemoHooks | None = None,
        settings: AppSettings | None = None,
        settings_warning: str | None = None,
        loading: Loading | None = None,
    ) -> None:
        super().__init__()
        self.runtime: Runtime | None = None
        self.engine: Engine | None = None
        self.review_path = review_path
        self.demo = demo
        self.loading = loading
        self.settings_warning = settings_warning
        # The app's view of the run, written only on the event loop.
        self.live: dict[str, list[CheckOutcome]] = {}
        self.gate_errors: dict[str, str] = {}
        self.progress: dict[str, tuple[float | None, str]] = {}
        self.acting: str | None = None
        self.rollback_running = False
        self.rollback_notes: list[str] = []
        self.last_rollback: RollbackResult | None = None
        self.identity_ok: bool | None = None
        self.approval_missing: dict[str, str] = {}
        self.others_gates: dict[str, str] = {}
        self.notes: list[str] = []
        self._cancel = threading.Event()
        if runtime is not None:
            self.adopt(runtime)
        if loading is None:
            self.use_settings(settings)
        elif keymap := loading.first_keymap():  # the rollback key as remapped, at once
            self.set_keymap(keymap)

    def adopt(self, runtime: Runtime) -> None:
        from runbook.engine import Engine

        self.runtime = runtime
        self.engine = Engine(runtime)
        self.review_path = self.review_path or runtime.audit.path

    def use_settings(self, settings: AppSettings | None) -> None:
        if settings is None:
            from screens.settings import AppSettings

            settings = AppSettings()
        self.settings = settings
        if settings.keymap:
            self.set_keymap(settings.keymap)

    # --- start-up -------------------------------------------------------------

    def on_mount(self) -> None:
        if self.settings_warning:
            self.notify(self.settings_warning, severity="warning")
        if self.is_loading:
            self.start_loading()  # the outline now, the run after the first paint
            return
        if self.runtime is None:
            from screens.review import ReviewScreen

            assert self.review_path is not None
            self.push_screen(ReviewScreen(self.review_path, standalone=True))
            return
        self.run_opened()

    def on_run_loaded(self, message: RunLoaded) -> None:
        if self.return_code is not None:  # quit while it loaded: the command line closes it
            return
        self.adopt(message.runtime)
        self.use_settings(message.settings)
        if message.warning:
            self.notify(message.warning, severity="warning")
        self.run_opened()
        if self.rollback_asked:
            self.action_rollback()

    def run_opened(self) -> None:
        """The overview, and what follows the run: once its runtime is here."""
        from screens.overview import OverviewScreen

        if isinstance(self.screen, LoadingScreen):
            self.switch_screen(OverviewScreen())
        else:
            self.push_screen(OverviewScreen())
        self.call_after_refresh(self.start_run)  # the identity check: after the first paint
        self.call_after_refresh(self.start_following)  # a run on S3: look at it every few s
        self.follow_files()
        # Start-up objects (service models, widgets) live for the whole run: keep
        # full collections from walking them, which stalled the loop by 100-200 ms.
        gc.freeze()
        self.tune_interpreter()

    @work(
        thread=True, group="startup", exit_on_error=False, description="Reconcile, check identity"
    )
    def start_run(self) -> None:
        """Settle any action a crash interrupted, then confirm the accounts (rule 6)."""
        assert self.engine is not None
        self.follow_watch()  # a breach from before start-up is shown, not alerted
        notes = []
        try:
            notes = self.engine.reconcile()
        except Exception as exc:
            if self.stop_if_audit_failed(exc):
                return
            notes = [f"could not reconcile interrupted actions: {exc}"]
        self.post_message(RunReconciled(notes))
        try:
            self.post_message(IdentityChecked(self.engine.verify_identity()))
        except Exception as exc:
            if not self.stop_if_audit_failed(exc):
                self.post_message(IdentityChecked([], f"{type(exc).__name__}: {exc}"))

    # --- workers: every AWS call happens in one of these ----------------------

    def run_gate(self, step_id: str, only: list[str] | None = None) -> None:
        if only is None:  # a whole gate starts afresh; a live re-check keeps the last results
            self.live[step_id] = []  # on screen until each new one replaces its own
        self._gate(step_id, only)

    @work(thread=True, group="gate", exit_on_error=False, description="Run a step's checks")
    def _gate(self, step_id: str, only: list[str] | None) -> None:
        assert self.engine is not None
        engine = self.engine
        checks = [j.check_cls.meta.id for j in engine.jobs(step_id, only)]
        self.post_message(GateStarted(step_id, checks))

        def report(outcome: CheckOutcome) -> None:
            self.post_message(CheckFinished(step_id, outcome))

        try:
            result = engine.run_gate(step_id, only=only, on_result=report)
        except Exception as exc:
            if not self.stop_if_audit_failed(exc):
                self.post_message(GateFailed(step_id, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(GateFinished(step_id, result))

    def start_action(self, step_id: str, *, confirmed: bool) -> None:
        self.acting = step_id
        self._cancel.clear()
        self._act(step_id, confirmed)

    @work(thread=True, group="action", exit_on_error=False, description="Do a step's action")
    def _act(self, step_id: str, confirmed: bool) -> None:
        from runbook.acting import LeaseLost
        from runbook.actions import ActionInterrupted, ActionOutcome
        from runbook.engine import GateNotPassed

        assert self.engine is not None

        def progress(fraction: float | None, text: str) -> None:
            self.post_message(ActionProgressed(step_id, fraction, text))

        try:
            outcome = self.engine.do(
                step_id,
                confirmed=confirmed,
                progress=progress,
                cancel=self._cancel,
                interrupt=self.quitting,
            )
        except GateNotPassed as exc:
            self.post_message(ActionRefused(step_id, str(exc)))
            return
        except LeaseLost as exc:  # another operator took over: say so, leave it open
            self.post_message(ActionRefused(step_id, str(exc)))
            return
        except ActionInterrupted:
            return  # the app is quitting; the next start reconciles it
        except Exception as exc:
            if self.stop_if_audit_failed(exc):
                return
            outcome = ActionOutcome(False, f"{type(exc).__name__}: {exc}")
        self.post_message(ActionFinished(step_id, outcome))

    @work(thread=True, group="waiver", exit_on_error=False, description="Record a waiver")
    def start_waiver(self, step_id: str, reason: str | WaiverRequest) -> None:
        """The waiver's audit record and state are fsynced here, off the event loop."""
        assert self.engine is not None
        try:
            self.engine.waive(step_id, reason)
        except Exception as exc:
            if not self.stop_if_audit_failed(exc):
                self.post_message(WaiverRecorded(step_id, str(exc)))
            return
        self.post_message(WaiverRecorded(step_id))

    def cancel_action(self) -> None:
        self._cancel.set()

    def stop_if_audit_failed(self, exc: BaseException) -> bool:
        """From any thread: an audit write failure stops the tool (and so does a state
        write failure after an action went out: the run's files no longer say what AWS is)."""
        from runbook.engine import OutcomeNotRecorded

        if isinstance(exc, AuditWriteError | OutcomeNotRecorded):
            self.post_message(AuditFailed(str(exc)))
            return True
        return False

    def on_audit_failed(self, message: AuditFailed) -> None:
        from runbook.dns.rollback import manual_command
        from runbook.dns.snapshot import Snapshot

        text = f"STOPPED: the audit log cannot be written ({message.error}); nothing more is sent."
        if self.runtime is not None and self.runtime.snapshot_path.exists():
            snapshot = Snapshot.load(self.runtime.snapshot_path)
            command = manual_command(snapshot)
            text += f"\nTo roll DNS back by hand:\n  {command}"
        self.exit(return_code=1, message=text)

    # --- message handlers (event loop) ----------------------------------------

    def broadcast(self, step_id: str | None = None) -> None:
        for screen in self.screen_stack:
            screen.post_message(EngineChanged(step_id))

    def on_gate_started(self, message: GateStarted) -> None:
        self.gate_errors.pop(message.step_id, None)
        self.broadcast(message.step_id)

    def on_check_finished(self, message: CheckFinished) -> None:
        kept = [o for o in self.live.get(message.step_id, []) if o.check != message.outcome.check]
        self.live[message.step_id] = [*kept, message.outcome]
        self.broadcast(message.step_id)

    def on_gate_finished(self, message: GateFinished) -> None:
        self.live[message.step_id] = list(message.gate.outcomes)
        for outcome in message.gate.outcomes:
            if outcome.proves_identity:
                self.identity_ok = outcome.result.status.value == "pass"
        self.broadcast(message.step_id)

    def on_gate_failed(self, message: GateFailed) -> None:
        self.gate_errors[message.step_id] = message.error
        self.notify(f"{message.step_id}: checks could not run: {message.error}", severity="error")
        self.broadcast(message.step_id)

    def on_waiver_recorded(self, message: WaiverRecorded) -> None:
        if message.error is not None:
            self.notify(message.error, severity="error")
        self.broadcast(message.step_id)

    def on_action_progressed(self, message: ActionProgressed) -> None:
        self.progress[message.step_id] = (message.fraction, message.text)
        self.broadcast(message.step_id)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.acting = None
        self.progress.pop(message.step_id, None)
        outcome = message.outcome
        self.notify(
            f"{message.step_id}: {outcome.summary}",
            severity="information" if outcome.ok else "error",
            timeout=8 if outcome.ok else 30,
        )
        self.broadcast(message.step_id)

    def on_action_refused(self, message: ActionRefused) -> None:
        self.acting = None
        self.notify(f"{message.step_id}: not done: {message.reason}", severity="warning")
        self.broadcast(message.step_id)

    def on_identity_checked(self, message: IdentityChecked) -> None:
        if message.error is not None:
            self.identity_ok = False
            self.notify(
                f"Could not check the accounts: {message.error}", severity="error", timeout=60
            )
        if message.findings:
            self.identity_ok = all(f.ok for f in message.findings)
            if not self.identity_ok:
                bad = ", ".join(f.account for f in message.findings if not f.ok)
                self.notify(f"Wrong or unreachable account: {bad}", severity="error", timeout=30)
        self.broadcast()

    def on_run_reconciled(self, message: RunReconciled) -> None:
        self.notes = message.notes
        self.broadcast()

    # --- actions ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.is_loading:
            return action in LOADING_ACTIONS
        if action == "take_over":
            return self.can_take_over()
        if action == "rollback":
            if self.runtime is None:
                return False  # review of a log alone: no runbook to roll back with
            return None if self.rollback_running else True
        return True

    def open_step(self, step_id: str) -> None:
        from screens.step import StepScreen

        self.push_screen(StepScreen(step_id))

    def action_review(self) -> None:
        from screens.review import ReviewScreen

        if self.review_path is not None and not isinstance(self.screen, ReviewScreen):
            self.push_screen(ReviewScreen(self.review_path))

    def action_handoff(self) -> None:
        from screens.handoff import HandoffScreen

        if self.runtime is not None and not isinstance(self.screen, HandoffScreen):
            self.push_screen(HandoffScreen())

    def audit_head(self) -> str:
        """Shown in the header so it can be written down off the machine."""
        if self.runtime is None:
            return ""
        return f"#{self.runtime.audit.seq} {self.runtime.audit.head_hash[:12]}"

    def step_status(self, step_id: str) -> StepStatus:
        from runbook.state import StepStatus

        assert self.engine is not None
        if self.acting == step_id:
            return StepStatus.RUNNING
        return self.engine.status(step_id)


def build_app(
    runbook_path: Path | None = None,
    *,
    review_path: Path | None = None,
    demo: DemoHooks | None = None,
    runtime: Runtime | None = None,
    loading: Loading | None = None,
) -> RunbookApp:
    """The one way the app is built, by the command line and by the tests alike.

    With `loading`, the settings are validated and the run opened after the first
    paint (`screens.loading`); otherwise here.
    """
    if loading is not None:
        return RunbookApp(review_path=review_path, demo=demo, loading=loading)
    from runbook.runtime import Runtime
    from screens.help import all_bindings
    from screens.settings import load_settings

    settings, warning = load_settings(lambda: all_bindings(RunbookApp))
    if runtime is None and runbook_path is not None:
        runtime = Runtime.open(runbook_path)
    return RunbookApp(
        runtime,
        review_path=review_path,
        demo=demo,
        settings=settings,
        settings_warning=warning,
    )
