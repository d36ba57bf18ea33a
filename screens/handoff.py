"""The source owner's list of changes, as `runbook handoff` writes it, on a screen.

One row per request (the same requests, in the same order); the highlighted
one's reason, commands, documents and SQL below. A table, not the Markdown
document: Textual's Markdown widget takes seconds to lay out hundreds of lines.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from runbook.formatting import plural, printable
from runbook.handoff.build import build_handoff
from runbook.handoff.model import PHASES, Handoff, Request
from screens.contract import runbook_app
from screens.dnsline import RunTop
from screens.footer import RunFooter
from screens.messages import EngineChanged
from screens.widgets import ROLLBACK_BINDING, clip, refresh_chrome

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "error": "bold red"}

NARROW_BELOW = 120  # columns: below this the table's long cells are clipped


def describe(request: Request) -> Text:
    """Everything the owner needs for one request, as plain text (values made printable)."""
    text = Text()
    text.append(f"{request.title}\n", style="bold")
    text.append(f"Resource: {printable(request.arn)}\n")
    text.append(f"Why: {printable(request.reason)}\n")
    verify = request.verify
    text.append(
        f"Verified by: {verify.check} at step {verify.step or '(none)'}, expected {verify.expect}\n"
    )
    if request.status is not None:
        text.append(
            f"Latest: {request.status.status} {request.status.time[:19]}: "
            f"{printable(request.status.summary)}\n",
            style=STATUS_STYLE.get(request.status.status, ""),
        )
    for line in (*request.evidence, *(f"Note: {n}" for n in request.notes)):
        text.append(f"{printable(line)}\n", style="dim")
    if request.console:
        text.append(f"Console: {printable(request.console)}\n")
    for command in request.commands:
        text.append(f"\n{printable(command.cli(), one_line=False)}\n", style="cyan")
        for name, body in command.documents():
            text.append(f"{name}:\n{printable(body, one_line=False)}\n", style="dim")
    if request.sql:
        text.append("\nSQL, run by the DBA:\n")
        text.append(printable("\n".join(request.sql), one_line=False) + "\n", style="cyan")
    return text


class HandoffScreen(Screen[None]):
    CSS_PATH = "handoff.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "back", "Back", id="handoff_back", tooltip="Back to the run"),
        Binding(
            "R",
            "reload",
            "Reload",
            id="handoff_reload",
            tooltip="Build the list again from the latest check results",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.handoff: Handoff | None = None

    def compose(self) -> ComposeResult:
        yield RunTop()
        yield Static(
            "Reading the runbook and the latest check results…",
            id="handoff-summary",
            markup=False,
        )
        yield DataTable(id="handoff-list", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="handoff-detail"):
            yield Static(id="handoff-request", markup=False)
        yield RunFooter()

    def on_mount(self) -> None:
        table = self.query_one("#handoff-list", DataTable)
        for name in ("#", "when", "change", "resource", "verified by", "latest"):
            table.add_column(name, key=name)
        table.focus()
        self.load()

    @work(thread=True, exclusive=True, group="handoff", exit_on_error=False)
    def load(self) -> None:
        """The audit log may be long: read it off the event loop."""
        runtime = runbook_app(self).runtime
        if runtime is None:
            self.app.call_from_thread(self.show, None, "No runbook: nothing to hand off.")
            return
        try:
            handoff = build_handoff(runtime.loaded, runtime.registry, runtime.audit.path)
        except Exception as exc:  # shown, never a crash of the app
            self.app.call_from_thread(self.show, None, f"Could not build the list: {exc}")
            return
        self.app.call_from_thread(self.show, handoff, None)

    def show(self, handoff: Handoff | None, error: str | None) -> None:
        self.handoff = handoff
        summary = self.query_one("#handoff-summary", Static)
        if error is not None or handoff is None:
            summary.update(error or "")
            return
        waiting = sum(1 for r in handoff.requests if r.status is None or r.status.status != "pass")
        summary.update(
            f"{plural(len(handoff.requests), 'change')} for the owner of source account "
            f"{handoff.source_account}; {waiting} not yet shown by a passing check. "
            "`runbook handoff --out FILE` writes this list as Markdown."
        )
        table = self.query_one("#handoff-list", DataTable)
        table.clear()
        # Narrow terminals: the long columns give way so "latest" stays on screen (the
        # whole request is in the detail panel below).
        narrow = self.size.width < NARROW_BELOW
        # Left for the three long cells (each column pads by 2; "#", "when" and "latest"
        # keep their width; 2 for the scrollbar): change 40 %, resource and check 30 %.
        fixed = 4 + max(len(p) for p in PHASES.values()) + 2 + len("not run") + 2 + 2 + 6
        left = max(self.size.width - fixed, 24)
        room = left * 4 // 10, left * 3 // 10
        for number, request in enumerate(handoff.requests, start=1):
            status = request.status.status if request.status else "not run"
            verify = f"{request.verify.check} @ {request.verify.step or '-'}"
            table.add_row(
                str(number),
                PHASES[request.phase],
                clip(printable(request.title), room[0]) if narrow else printable(request.title),
                clip(printable(request.arn), room[1]) if narrow else printable(request.arn),
                clip(verify, room[1]) if narrow else verify,
                Text(status, style=STATUS_STYLE.get(status, "dim")),
                key=request.key,
            )
        self.show_request()

    def selected(self) -> Request | None:
        table = self.query_one("#handoff-list", DataTable)
        if self.handoff is None or not table.row_count:
            return None
        return self.handoff.requests[table.cursor_row]

    def show_request(self) -> None:
        request = self.selected()
        self.query_one("#handoff-request", Static).update(describe(request) if request else "")

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_request()

    def on_engine_changed(self, _message: EngineChanged) -> None:
        refresh_chrome(self)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()
