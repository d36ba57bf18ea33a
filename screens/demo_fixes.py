"""The demo's `f`: a fix applied in the emulator, then the check it clears re-run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work

from screens.messages import DemoFixApplied

if TYPE_CHECKING:
    from textual.message import Message

    from runbook.engine import Engine
    from runbook.runtime import Runtime
    from screens.contract import DemoHooks


class DemoFixer:
    """Mixed into the app: fixes run in a worker; their effect is shown at once."""

    demo: DemoHooks | None
    runtime: Runtime | None
    engine: Engine | None

    if TYPE_CHECKING:  # the App's own, which this is mixed into

        def post_message(self, message: Message) -> bool: ...
        def notify(self, message: str, *, title: str = "") -> None: ...
        def broadcast(self, step_id: str | None = None) -> None: ...
        def run_gate(self, step_id: str, only: list[str] | None = None) -> None: ...

    def apply_demo_fix(self, check_id: str) -> None:
        if self.demo is None or check_id not in self.demo.fixes:
            return
        self._demo_fix(check_id, self.demo.fixes[check_id])

    @work(thread=True, group="demo-fix", exit_on_error=False, description="Apply a demo fix")
    def _demo_fix(self, check_id: str, fix: Callable[[], str]) -> None:
        self.post_message(DemoFixApplied(check_id, fix()))

    def on_demo_fix_applied(self, message: DemoFixApplied) -> None:
        self.notify(f"demo: {message.description}", title=message.check_id)
        # Show the fix's effect at once: re-run that check wherever a gate already ran it.
        if self.runtime is not None and self.engine is not None:
            for step in self.runtime.model.steps:
                ran = any(ref.id == message.check_id for ref in step.checks)
                if ran and self.engine.gate(step.id) is not None:
                    self.run_gate(step.id, only=[message.check_id])
        self.broadcast()
