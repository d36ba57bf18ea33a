"""A confirmation that takes one more key: `y` to go ahead, `n` or escape to cancel.

It names the change: a `preview` callable (the step's `runbook.preview` text, read
from AWS) runs in a thread worker, so the dialog opens at once and fills in.
Question and preview scroll inside the dialog; the buttons sit below them, so at
any terminal size both stay on screen, however long the text or the label.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static
from textual.worker import Worker, WorkerState

from runbook.dns.aftermath import Aftermath
from runbook.dns.records import describe_set
from runbook.dns.snapshot import Snapshot
from runbook.formatting import error_line, one_line
from screens.contract import Premise
from screens.widgets import ROLLBACK_BINDING

READING = "Reading the current values…"
YES_LABEL_LIMIT = 80
Preview = Callable[[], str | None]
"""Returns the text naming the change (None: nothing to name); runs in a thread."""


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
        preview: Preview | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label
        self.purpose = purpose
        self.premise = premise
        self.preview = preview

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            # Text from the runbook and from AWS: never read as markup.
            with VerticalScroll(id="body"):
                yield Static(self.question, id="question", markup=False)
                if self.preview is not None:
                    yield Static(READING, id="preview", markup=False)
            with Horizontal(id="buttons"):
                # At most three wrapped lines, so the key survives; the question has it all.
                label = one_line(self.yes_label, limit=YES_LABEL_LIMIT)[0]
                yield Button(f"{label} (y)", id="yes", variant="error")
                yield Button("Cancel (n)", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # a stray Enter must not confirm
        if self.preview is not None:
            self.run_worker(self.preview, thread=True, group="preview", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "preview" or not self.is_attached:
            return
        shown = self.query_one("#preview", Static)
        if event.state == WorkerState.SUCCESS:
            text = event.worker.result
            shown.update(text if isinstance(text, str) else "")
            shown.display = isinstance(text, str)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            reason = error_line(error) if error is not None else "no answer"
            shown.update(f"could not read current values: {reason}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the rollback confirmation itself, the rollback key has nothing left to do.
        return not (action == "rollback" and self.purpose == "rollback")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def rollback_question(path: Path, aftermath: Aftermath | None = None) -> str:
    """What the rollback dialog asks, from the snapshot file alone (read on the event loop:
    the worker checks it against the audit log, which may be long, and sends the audited
    copy if the file was changed), with what a rollback does not undo (`aftermath`: from
    the run state; its user count comes later, as the dialog's preview)."""
    lead = "".join(f"{line}\n\n" for line in aftermath.warnings()) if aftermath else ""
    try:
        snapshot = Snapshot.load(path)
    except (OSError, ValueError) as exc:
        ask = (
            f"The snapshot file is unreadable ({exc}).\n\nRoll back to the copy the flip "
            "recorded in the audit log?"
        )
    else:
        body = "\n".join(f"  {describe_set(rs)}" for rs in snapshot.record_sets)
        where = "the old records" if aftermath and aftermath.finished else "the source"
        ask = (
            f"Roll {snapshot.label} back to {where}?\n\n"
            f"UPSERT of the snapshot taken {snapshot.taken_at[:19]}Z:\n{body}"
        )
    if aftermath is None:
        return lead + ask
    *known, _users = aftermath.caveats()  # the users' line is the preview, once counted
    return lead + ask + "\n\n" + "\n".join(known)
