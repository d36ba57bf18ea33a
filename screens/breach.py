"""The breach alert: over whatever screen is open, with the rollback key at hand.

Opened by the app when a watch's criterion breaches (in this process or in a
`runbook do` in another shell). It says what crossed which threshold and where
the evidence is; `ctrl+r` (the app's rollback binding) works from here as from
every screen; escape acknowledges it, and the run header keeps the alert until
DNS is rolled back.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from screens.contract import runbook_app
from screens.dnsline import RunTop
from screens.footer import RunFooter
from screens.messages import EngineChanged
from screens.widgets import ROLLBACK_BINDING, refresh_chrome


class BreachScreen(ModalScreen[None]):
    CSS_PATH = "breach.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding(
            "escape",
            "acknowledge",
            "Acknowledge",
            id="breach_ack",
            tooltip="Close the alert; the header keeps it until DNS is rolled back",
        ),
    ]

    def __init__(self, breach: dict[str, Any]) -> None:
        super().__init__()
        self.breach = breach

    def compose(self) -> ComposeResult:
        yield RunTop()
        with Vertical(id="dialog"):
            yield Static(id="headline")
            yield Static(id="body")
        yield RunFooter()

    def on_mount(self) -> None:
        self.redraw()

    def on_engine_changed(self, _message: EngineChanged) -> None:
        refresh_chrome(self)
        self.redraw()

    def redraw(self) -> None:
        b = self.breach
        self.query_one("#headline", Static).update(
            f"WATCH BREACHED: {b.get('criterion')} ({b.get('kind')})"
        )
        body = Text()
        body.append(f"{b.get('summary')}\n\n")
        criterion = b.get("criteria", {}).get(b.get("criterion"))
        if criterion is not None and criterion.thresholds:
            shown = ", ".join(f"{k} {v}" for k, v in criterion.thresholds.items())
            body.append(f"Criteria: {shown}\n", style="dim")
        body.append(
            f"Step {b.get('step')}, at {str(b.get('at'))[:19]}Z; the evidence is audit "
            f"record seq {b.get('seq')}.\n\n"
        )
        app = runbook_app(self)
        rolled = app.runtime.state.dns if app.runtime is not None else None
        if b.get("rolled_back") is True:
            body.append(
                'on_breach = "rollback": DNS was rolled back to the snapshot.\n', style="bold"
            )
        elif b.get("rolled_back") is False:
            body.append(
                'on_breach = "rollback": the rollback was NOT confirmed.\n', style="bold red"
            )
        if app.rollback_running:
            body.append("Rolling back…\n", style="bold yellow")
        elif rolled is not None and rolled.rollback_confirmed and app.active_breach() is None:
            body.append("DNS is back on the snapshot (rolled back).\n", style="bold green")
        else:
            body.append("Roll DNS back to the source: ctrl+r (asks once more).\n", style="bold")
        body.append(
            "escape: acknowledge (the header keeps the alert until rolled back)", style="dim"
        )
        self.query_one("#body", Static).update(body)

    def action_acknowledge(self) -> None:
        self.dismiss(None)
