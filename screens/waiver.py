"""A waiver: the operator types why a failed gate is acceptable. Audited."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from runbook.engine import MIN_WAIVER_CHARS
from screens.contract import Premise
from screens.widgets import ROLLBACK_BINDING


class WaiverScreen(ModalScreen[str | None]):
    CSS_PATH = "waiver.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "cancel", "Cancel", id="waiver_cancel", tooltip="Keep the gate closed"),
    ]

    def __init__(
        self, step_title: str, failing: list[str], *, premise: Premise | None = None
    ) -> None:
        super().__init__()
        self.step_title = step_title
        self.failing = failing
        self.premise = premise

    def compose(self) -> ComposeResult:
        listed = "\n".join(f"  • {line}" for line in self.failing) or "  (none)"
        with Vertical(id="dialog"):
            yield Static(f"Waive the gate of: {self.step_title}\n\nFailing:\n{listed}", id="what")
            yield Input(
                placeholder="Why is this acceptable? (recorded in the audit log)", id="reason"
            )
            yield Static("Enter to waive, Escape to cancel.", id="help")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if len(reason) < MIN_WAIVER_CHARS:
            self.query_one("#help", Static).update("A waiver needs a typed reason.")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
