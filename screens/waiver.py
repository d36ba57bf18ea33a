"""A waiver: the operator types why each failed check is acceptable. Audited.

The dialog names every failing blocking check the waiver covers. In production
each of several failing checks gets its own reason field, and the flip's waiver
asks for the environment's name typed as well (the rules are `runbook.waivers`;
the engine applies them again when the waiver is recorded).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from runbook.runner import CheckOutcome
from runbook.waivers import MIN_WAIVER_CHARS, WaiverRequest
from screens.contract import Premise
from screens.widgets import ROLLBACK_BINDING, badge


class WaiverScreen(ModalScreen[WaiverRequest | None]):
    CSS_PATH = "waiver.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "cancel", "Cancel", id="waiver_cancel", tooltip="Keep the gate closed"),
    ]

    def __init__(
        self,
        step_title: str,
        failing: list[CheckOutcome],
        *,
        environment: str,
        per_check: bool = False,
        type_environment: bool = False,
        premise: Premise | None = None,
    ) -> None:
        super().__init__()
        self.step_title = step_title
        self.failing = failing
        self.environment = environment
        self.per_check = per_check
        self.type_environment = type_environment
        self.premise = premise

    def what_text(self) -> Text:
        text = Text(f"Waive the gate of: {self.step_title}  ", style="bold")
        text.append(f" {self.environment.upper()} ", style="bold reverse")
        count = len(self.failing)
        text.append(f"\n\nThis waiver covers {count} failing blocking check(s):\n", style="bold")
        for outcome in self.failing:
            text.append("  ")
            text.append_text(badge(outcome.result.status.value))
            text.append(f" {outcome.check}: {outcome.result.summary}\n")
        if self.per_check:
            text.append(f"\nIn {self.environment} each one needs its own reason.", style="yellow")
        return text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self.what_text(), id="what")
            if self.per_check:
                for index, outcome in enumerate(self.failing):
                    yield Label(f"Reason for {outcome.check}:", classes="field")
                    yield Input(
                        placeholder="why this is acceptable (audited)",
                        id=f"reason-{index}",
                        classes="reason",
                    )
            else:
                yield Input(
                    placeholder="Why is this acceptable? (recorded in the audit log)",
                    id="reason",
                    classes="reason",
                )
            if self.type_environment:
                yield Label(
                    f"This is the flip. Type {self.environment!r} to waive its gate:",
                    classes="field",
                    id="environment-label",
                )
                yield Input(placeholder=self.environment, id="environment")
            yield Static("Enter to waive (or go to the next field), Escape to cancel.", id="help")
        yield Footer()

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def request(self) -> tuple[WaiverRequest | None, str]:
        """What was typed, or why it is not enough yet (and which field to fix)."""
        fields = list(self.query(".reason").results(Input))
        for index, field in enumerate(fields):
            if len(field.value.strip()) < MIN_WAIVER_CHARS:
                field.focus()
                whose = f" for {self.failing[index].check}" if self.per_check else ""
                return None, f"Type a reason{whose} of at least {MIN_WAIVER_CHARS} characters."
        typed: str | None = None
        if self.type_environment:
            box = self.query_one("#environment", Input)
            typed = box.value.strip()
            if typed != self.environment:
                box.focus()
                return None, f"Type the environment's name exactly: {self.environment}"
        if self.per_check:
            reasons = {o.check: f.value.strip() for o, f in zip(self.failing, fields, strict=True)}
            return WaiverRequest(reasons=reasons, typed_environment=typed), ""
        return WaiverRequest(reason=fields[0].value.strip(), typed_environment=typed), ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input).results(Input))
        position = inputs.index(event.input)
        if position + 1 < len(inputs) and len(event.value.strip()) >= MIN_WAIVER_CHARS:
            inputs[position + 1].focus()  # Enter moves on until the last field
            return
        request, problem = self.request()
        if request is None:
            self.query_one("#help", Static).update(Text(problem, style="bold red"))
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
