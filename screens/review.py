"""Review of an audit log: timeline, filters by step and event kind, chain status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Select, Static

from runbook.audit.record import gist
from runbook.audit.verify import read_records, verify
from runbook.formatting import printable
from screens.contract import runbook_app
from screens.messages import AuditLoaded, EngineChanged
from screens.widgets import ROLLBACK_BINDING, RunHeader

ALL = "(all)"


def _gist(record: dict[str, object]) -> str:
    details = record.get("details")
    return gist(str(record.get("event")), details) if isinstance(details, dict) else ""


class ReviewScreen(Screen[None]):
    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "back", "Back", id="review_back", tooltip="Back to the run"),
        Binding("R", "reload", "Reload", id="review_reload", tooltip="Read the log again"),
    ]

    def __init__(self, path: Path, *, standalone: bool = False) -> None:
        super().__init__()
        self.path = path
        self.standalone = standalone
        self.records: list[dict[str, object]] = []

    def compose(self) -> ComposeResult:
        yield RunHeader()
        yield Static("Verifying…", id="verdict")
        with Horizontal(id="filters"):
            yield Select[str]([], prompt="step", id="step-filter", allow_blank=True)
            yield Select[str]([], prompt="event", id="event-filter", allow_blank=True)
        yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
        yield Static(id="record")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#timeline", DataTable)
        for name in ("seq", "time", "step", "event", "what"):
            table.add_column(name, key=name)
        self.load()
        table.focus()

    @work(thread=True, exclusive=True, group="review-load", exit_on_error=False)
    def load(self) -> None:
        """Reading and verifying a long log is file work: keep it off the event loop."""
        if not self.path.exists():
            self.post_message(AuditLoaded([], f"{self.path}: no such file", False))
            return
        report = verify(self.path)
        self.post_message(AuditLoaded(read_records(self.path), report.describe(), report.ok))

    def on_audit_loaded(self, message: AuditLoaded) -> None:
        self.records = message.records
        style = "bold green" if message.intact else "bold white on red"
        self.query_one("#verdict", Static).update(Text(f"Chain: {message.verdict}", style=style))
        steps = sorted({str(r.get("step")) for r in self.records if r.get("step")})
        events = sorted({str(r.get("event")) for r in self.records})
        self.query_one("#step-filter", Select).set_options([(s, s) for s in steps])
        self.query_one("#event-filter", Select).set_options([(e, e) for e in events])
        self.fill()

    def on_engine_changed(self, _message: EngineChanged) -> None:
        if not self.standalone:
            self.load()

    def on_select_changed(self, _event: Select.Changed) -> None:
        self.fill()

    def selected(self, widget_id: str) -> str | None:
        value = self.query_one(widget_id, Select).value
        return value if isinstance(value, str) else None

    def fill(self) -> None:
        step, event = self.selected("#step-filter"), self.selected("#event-filter")
        table = self.query_one("#timeline", DataTable)
        table.clear()
        # Rows are keyed by position: a broken log may repeat a seq (two writers, tampering).
        for index, record in enumerate(self.records):
            if step is not None and record.get("step") != step:
                continue
            if event is not None and record.get("event") != event:
                continue
            time = str(record.get("time", ""))[11:19]
            table.add_row(
                str(record.get("seq")),
                printable(time),
                printable(str(record.get("step") or "-")),
                printable(str(record.get("event"))),
                printable(_gist(record))[:90],
                key=str(index),
            )
        self.show_record()

    def show_record(self) -> None:
        table = self.query_one("#timeline", DataTable)
        panel = self.query_one("#record", Static)
        if not table.row_count:
            panel.update("")
            return
        index = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        record = self.records[int(index)] if index is not None else None
        panel.update(json.dumps(record, indent=2, default=str)[:6000] if record else "")

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_record()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return not self.standalone
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    @property
    def rb_runtime_present(self) -> bool:
        return runbook_app(self).runtime is not None
