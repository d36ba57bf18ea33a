"""Small widgets shared by several screens: the run header and status badges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from screens.contract import RunbookAppApi, runbook_app

if TYPE_CHECKING:
    from runbook.engine import Engine

STATUS_STYLE = {
    "pending": "dim",
    "checking": "bold cyan",
    "blocked": "bold red",
    "ready": "bold green",
    "running": "bold yellow",
    "done": "green",
    "failed": "bold white on red",
    "waived": "bold magenta",
    "pass": "green",
    "warn": "yellow",
    "fail": "bold red",
    "error": "bold white on red",
    "skipped": "dim",
}
STATUS_ICON = {
    "pending": "·",
    "checking": "…",
    "blocked": "✗",
    "ready": "▶",
    "running": "⟳",
    "done": "✓",
    "failed": "✗",
    "waived": "!",
    "pass": "✓",
    "warn": "!",
    "fail": "✗",
    "error": "✗",
    "skipped": "-",
}
ENV_STYLE = {
    # Production must be impossible to miss; the other two are distinct and calm.
    "production": "bold white on red",
    "staging": "bold black on yellow",
    "rehearsal": "bold white on blue",
}


def badge(status: str) -> Text:
    return Text(f"{STATUS_ICON.get(status, '?')} {status}", style=STATUS_STYLE.get(status, ""))


class RunHeader(Static):
    """Migration, environment, both account IDs and the audit head hash; always on top."""

    DEFAULT_CSS = """
    RunHeader { dock: top; height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.refresh_header()
        self.set_interval(1.0, self.refresh_header)

    def refresh_header(self) -> None:
        app = runbook_app(self)
        text = Text(no_wrap=True, overflow="ellipsis")
        if app.runtime is None:
            text.append(" REVIEW ", style="bold black on cyan")
            text.append(f"  {app.review_path}")
            self.update(text)
            return
        model = app.runtime.model
        env = model.migration.environment
        breach = app.active_breach()
        if breach is not None:  # a watch's criterion breached: on every screen until rolled back
            where = f"{breach.get('criterion')} ({breach.get('step')})"
            text.append(f" BREACH: {where} · ctrl+r rolls back ", style="bold white on red blink")
        text.append(f" {env.upper()} ", style=ENV_STYLE[env])
        text.append(f"  {model.migration.name}  ", style="bold")
        text.append(f" source {model.accounts.source.account_id}", style="")
        text.append(" → ")
        text.append(f"target {model.accounts.target.account_id}", style="")
        identity = app.identity_ok
        if identity is not None:
            text.append("  ids ✓" if identity else "  ids ✗", style="green" if identity else "red")
        text.append(f"  audit {app.audit_head()}", style="dim")
        self.update(text)


class RunbookScreen(Screen[None]):
    """Base of the full screens: typed access to the app and its engine."""

    @property
    def rb(self) -> RunbookAppApi:
        return runbook_app(self)

    @property
    def engine(self) -> Engine:
        engine = self.rb.engine
        assert engine is not None
        return engine


# The same key on every screen, modals included: Textual drops the app's own
# bindings from a modal's footer, and the operator must always see this one.
ROLLBACK_BINDING = Binding(
    "ctrl+r",
    "app.rollback",
    "Rollback DNS",
    priority=True,
    id="rollback",
    tooltip="Roll DNS back to the snapshot taken before the flip (asks once more)",
)
