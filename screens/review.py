"""Review of an audit log: timeline, filters by step, event kind and text, chain status.

`/` filters by any text of a record's line; `h` hides the routine records (check
results, gate starts, sessions, watch rounds) so the decisions stand out.
"""

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
from textual.widgets import DataTable, Select, Static

from runbook.audit.record import EventName, gist
from runbook.audit.verify import read_records, verify
from runbook.formatting import printable
from runbook.watch import WATCH_ROUND
from screens.contract import runbook_app
from screens.dnsline import RunTop
from screens.footer import RunFooter
from screens.messages import AuditLoaded, EngineChanged
from screens.search import SEARCH_BINDING, Searchable, SearchBar, matches
from screens.widgets import ROLLBACK_BINDING, clip, refresh_chrome

ALL = "(all)"
ROUTINE_EVENTS = frozenset(
    {
        EventName.CHECK_RESULT,
        EventName.GATE_STARTED,
        EventName.IDENTITY_VERIFIED,
        EventName.RUN_STARTED,  # sessions: each start of the app or a command
        EventName.RUN_RESUMED,
        WATCH_ROUND,
    }
)
"""What `h` hides: the many records behind each decision, not the decisions."""


def who(record: dict[str, object]) -> str:
    operator = record.get("operator")
    return str(operator.get("local_user") or "?") if isinstance(operator, dict) else "?"


def _gist(record: dict[str, object]) -> str:
    details = record.get("details")
    return gist(str(record.get("event")), details) if isinstance(details, dict) else ""


class ReviewScreen(Searchable, Screen[None]):
    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "back", "Back", id="review_back", tooltip="Back to the run"),
        SEARCH_BINDING,
        Binding(
            "h",
            "hide_routine",
            "Routine",
            id="review_routine",
            tooltip="Hide or show routine records: check results, gate starts, sessions, "
            "watch rounds",
        ),
        Binding("R", "reload", "Reload", id="review_reload", tooltip="Read the log again"),
    ]
    hide_routine = False

    def __init__(self, path: Path, *, standalone: bool = False) -> None:
        super().__init__()
        self.path = path
        self.standalone = standalone
        self.records: list[dict[str, object]] = []
        self.several = False  # more than one operator wrote the log: a "who" column

    def compose(self) -> ComposeResult:
        yield RunTop()
        yield Static("Verifying…", id="verdict", markup=False)
        with Horizontal(id="filters"):
            yield Select[str]([], prompt="step", id="step-filter", allow_blank=True)
            yield Select[str]([], prompt="event", id="event-filter", allow_blank=True)
        yield SearchBar()
        yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
        yield Static(id="record", markup=False)  # JSON: its brackets are not markup
        yield RunFooter()

    def on_mount(self) -> None:
        self.columns(("seq", "time", "step", "event", "what"))
        self.load()
        self.query_one("#timeline", DataTable).focus()

    def columns(self, names: tuple[str, ...]) -> None:
        table = self.query_one("#timeline", DataTable)
        table.clear(columns=True)
        for name in names:
            table.add_column(name, key=name)

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
        # A log written by several people (a team run) says who wrote each record.
        self.several = len({who(r) for r in self.records}) > 1
        table = self.query_one("#timeline", DataTable)
        if self.several != ("who" in table.columns):
            named = ("seq", "time", "who") if self.several else ("seq", "time")
            self.columns((*named, "step", "event", "what"))
        style = "bold green" if message.intact else "bold white on red"
        self.query_one("#verdict", Static).update(Text(f"Chain: {message.verdict}", style=style))
        steps = sorted({str(r.get("step")) for r in self.records if r.get("step")})
        events = sorted({str(r.get("event")) for r in self.records})
        self.query_one("#step-filter", Select).set_options([(s, s) for s in steps])
        self.query_one("#event-filter", Select).set_options([(e, e) for e in events])
        self.fill()

    def on_engine_changed(self, _message: EngineChanged) -> None:
        refresh_chrome(self)
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
        row = table.cursor_row
        table.clear()
        room = self.what_room(step, event)
        # Rows are keyed by position: a broken log may repeat a seq (two writers, tampering).
        for index, record in enumerate(self.records):
            if step is not None and record.get("step") != step:
                continue
            if event is not None and record.get("event") != event:
                continue
            if not self.wanted(record):
                continue
            time = str(record.get("time", ""))[11:19]
            table.add_row(
                str(record.get("seq")),
                printable(time),
                *([printable(who(record))] if self.several else []),
                printable(str(record.get("step") or "-")),
                printable(str(record.get("event"))),
                clip(printable(_gist(record)), room),
                key=str(index),
            )
        if row < table.row_count:
            table.move_cursor(row=row)
        self.query_one(SearchBar).show_count(table.row_count, len(self.records), "records")
        self.show_record()

    def wanted(self, record: dict[str, object]) -> bool:
        """Not hidden as routine, and matching the search text."""
        if self.hide_routine and record.get("event") in ROUTINE_EVENTS:
            return False
        query = self.search_query
        fields = (record.get(k) for k in ("seq", "time", "step", "event"))
        return not query or matches(query, *fields, who(record), _gist(record))

    def apply_search(self, query: str) -> None:
        self.fill()

    def search_done(self) -> None:
        self.query_one("#timeline", DataTable).focus()

    def action_hide_routine(self) -> None:
        self.hide_routine = not self.hide_routine
        state = "hidden" if self.hide_routine else "shown"
        self.notify(f"Routine records {state} (h toggles)", timeout=4)
        self.fill()

    def what_room(self, step: str | None, event: str | None) -> int:
        """The gist column ends at the screen's edge; the record below shows all of it."""
        shown = [r for r in self.records if step in (None, r.get("step"))]
        shown = [r for r in shown if event in (None, r.get("event"))]
        beside = 8 + 2  # time
        if self.several:
            beside += max([3, *(len(printable(who(r))) for r in shown)]) + 2
        for name, field in (("seq", "seq"), ("step", "step"), ("event", "event")):
            values = [len(printable(str(r.get(field) or "-"))) for r in shown]
            beside += max([len(name), *values]) + 2
        width = self.size.width or self.app.size.width
        return max(width - beside - 2 - 2, 20)  # the gist's own padding, the scrollbar

    def on_resize(self) -> None:
        if self.records:
            self.fill()

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
