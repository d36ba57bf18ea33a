"""Taking the run's lease over from the operator acting now: why, typed, then audited.

For the driver whose laptop died or hung mid-cutover (a dead holder's lease is
taken over by the next action anyway, after its heartbeat goes silent). Closes by
itself if the lease changes hands while it is open.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from runbook.lease import MIN_REASON_CHARS, Holder
from screens.contract import Premise
from screens.widgets import ROLLBACK_BINDING


class TakeOverScreen(ModalScreen[str | None]):
    CSS_PATH = "takeover.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "cancel", "Cancel", id="takeover_cancel", tooltip="Leave the lease"),
    ]

    def __init__(self, holder: Holder, *, premise: Premise | None = None) -> None:
        super().__init__()
        self.holder = holder
        self.premise = premise

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            text = Text("Take the run's lease over from:\n", style="bold")
            text.append(f"  {self.holder.describe()}\n\n")
            text.append(
                "Their wait or watch pauses at its next heartbeat (a few seconds) and stays "
                "open for the next `do`; an action already sending, such as a flip, finishes. "
                "The takeover is audited with your reason and announced."
            )
            yield Static(text, id="what")
            yield Label(f"Why (at least {MIN_REASON_CHARS} characters), then Enter:")
            yield Input(placeholder="e.g. Ana's laptop froze; agreed on the bridge", id="reason")
            yield Static("", id="problem")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if len(reason) < MIN_REASON_CHARS:
            self.query_one("#problem", Static).update(
                Text(f"Say why in at least {MIN_REASON_CHARS} characters.", style="bold red")
            )
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
