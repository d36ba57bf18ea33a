"""A confirmation that takes one more key: `y` to go ahead, `n` or escape to cancel."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from runbook.dns.records import describe_set
from runbook.dns.snapshot import Snapshot
from screens.contract import Premise
from screens.widgets import ROLLBACK_BINDING


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("y", "answer(True)", "Yes", id="confirm_yes", tooltip="Go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no", tooltip="Cancel; nothing sent"),
    ]

    def __init__(
        self,
        question: str,
        *,
        yes_label: str = "Yes",
        purpose: str = "action",
        premise: Premise | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label
        self.purpose = purpose
        self.premise = premise

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes_label} (y)", id="yes", variant="error")
                yield Button("Cancel (n)", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # a stray Enter must not confirm

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the rollback confirmation itself, the rollback key has nothing left to do.
        return not (action == "rollback" and self.purpose == "rollback")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def rollback_question(path: Path) -> str:
    """What the rollback dialog asks, from the snapshot file alone (read on the event loop:
    the worker checks it against the audit log, which may be long, and sends the audited
    copy if the file was changed)."""
    try:
        snapshot = Snapshot.load(path)
    except (OSError, ValueError) as exc:
        return (
            f"The snapshot file is unreadable ({exc}).\n\nRoll back to the copy the flip "
            "recorded in the audit log?"
        )
    body = "\n".join(f"  {describe_set(rs)}" for rs in snapshot.record_sets)
    return (
        f"Roll {snapshot.label} back to the source?\n\n"
        f"UPSERT of the snapshot taken {snapshot.taken_at[:19]}Z:\n{body}"
    )
