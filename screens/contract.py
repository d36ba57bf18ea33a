"""What the screens may use of the app, as a Protocol: screens never import the app module.

The app (`screens/app.py`) imports every screen; a screen that imported the app
back would close a cycle. Screens reach the running app through `runbook_app()`,
typed by this contract, which `RunbookApp` satisfies (mypy checks that where the
app hands itself to `step_commands`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:  # the app's first paint imports no engine or model (tests/app/test_loading.py)
    from runbook.dns.rollback import RollbackResult
    from runbook.engine import Engine
    from runbook.lease import Holder
    from runbook.runner import CheckOutcome
    from runbook.runtime import Runtime
    from runbook.state import StepStatus
    from runbook.waivers import WaiverRequest
    from runbook.watch import WatchView
    from screens.settings import AppSettings


@dataclass
class DemoHooks:
    """What `runbook demo` adds: fixes applied in the emulator, and hints."""

    fixes: dict[str, Callable[[], str]] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    banner: str = ""
    # The emulator lives and dies with this app (not `--serve`): quitting ends the world,
    # and the run cannot be resumed, so `q` asks even with nothing running.
    world_ends_on_quit: bool = False


Premise = Callable[[], str | None]
"""Asked when the run changes under an open dialog: why its question no longer stands."""


class RunbookAppApi(Protocol):
    """The app's view of the run (written only on the event loop) and what screens ask of it."""

    runtime: Runtime | None
    engine: Engine | None
    review_path: Path | None
    demo: DemoHooks | None
    settings: AppSettings
    live: dict[str, list[CheckOutcome]]
    gate_errors: dict[str, str]
    progress: dict[str, tuple[float | None, str]]
    acting: str | None
    rollback_running: bool
    rollback_notes: list[str]  # the running rollback's attempts, latest last
    last_rollback: RollbackResult | None
    identity_ok: bool | None
    notes: list[str]
    watch_view: WatchView | None  # the latest watch, as `watch.json` says
    breach: dict[str, Any] | None
    lease_holder: Holder | None  # another process acting now, as last seen
    shared_trouble: str | None  # why the run's S3 backend did not answer the last look
    approval_missing: dict[str, str]  # step -> why its action still waits for approvals
    others_gates: dict[str, str]  # step -> the newest gate another machine ran, in words

    def open_step(self, step_id: str) -> None: ...
    def needs_approval(self, step_id: str) -> bool: ...
    def count_approvals(self, step_id: str) -> object: ...  # a worker
    def ask_approval(self, step_id: str) -> None: ...
    def run_gate(self, step_id: str, only: list[str] | None = None) -> None: ...
    def start_action(self, step_id: str, *, confirmed: bool) -> None: ...
    def start_waiver(self, step_id: str, reason: str | WaiverRequest) -> object: ...  # a worker
    def cancel_action(self) -> None: ...
    def apply_demo_fix(self, check_id: str) -> None: ...
    def broadcast(self, step_id: str | None = None) -> None: ...
    def step_status(self, step_id: str) -> StepStatus: ...
    def audit_head(self) -> str: ...
    def action_rollback(self) -> None: ...
    def action_review(self) -> None: ...
    def active_breach(self) -> dict[str, Any] | None: ...


def runbook_app(widget: Any) -> RunbookAppApi:
    """The app, typed: screens and widgets only ever run inside RunbookApp."""
    return cast(RunbookAppApi, widget.app)
