"""Overview: phases and steps with live status, where the run resumes, DNS state."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from runbook.formatting import duration
from runbook.state import StepState, StepStatus
from screens.dnsline import RunTop
from screens.footer import RunFooter
from screens.messages import EngineChanged
from screens.search import SEARCH_BINDING, Searchable, SearchBar, matches
from screens.widgets import (
    ROLLBACK_BINDING,
    STATUS_ICON,
    STATUS_STYLE,
    RunbookScreen,
    badge,
    clip,
    refresh_chrome,
)

# Cells beside the title: phase, status (12) and took (8), each column padded by 2,
# and the scrollbar. The title gives way so the status column is never cut.
BESIDE_TITLE = 12 + 14 + 10 + 2 + 2


def took(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return ""
    return duration((finished - started).total_seconds())


class OverviewScreen(Searchable, RunbookScreen):
    CSS_PATH = "overview.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("enter", "open_step", "Open step", id="open_step", tooltip="The highlighted step"),
        Binding("n", "open_next", "Next step", id="open_next", tooltip="Where the run stands"),
        SEARCH_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cells: dict[tuple[str, str], object] = {}  # what each cell shows now

    def compose(self) -> ComposeResult:
        yield RunTop(detail=True)
        yield Static(id="banner")
        yield SearchBar()
        yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
        yield RunFooter()

    def on_mount(self) -> None:
        table = self.query_one("#steps", DataTable)
        table.add_column("Phase", key="phase")
        table.add_column("Step", key="step")
        table.add_column("Status", key="status", width=12)
        table.add_column("Took", key="took", width=8)
        table.add_column("Note", key="note")
        engine = self.engine
        for step in engine.rt.model.steps:
            table.add_row("", "", "", "", "", key=step.id)
        self.redraw()
        current = engine.current_step()
        if current is not None:
            table.move_cursor(row=table.get_row_index(current))
        table.focus()

    def on_resize(self) -> None:
        self.redraw()

    def title_room(self) -> int:
        phase = max((len(s.phase) for s in self.engine.rt.model.steps), default=0)
        width = self.size.width or self.app.size.width
        return max(width - phase - BESIDE_TITLE, 16)

    def on_engine_changed(self, _message: EngineChanged) -> None:
        self.redraw()

    def redraw(self) -> None:
        refresh_chrome(self)
        app = self.rb
        engine = self.engine
        rt = engine.rt
        table = self.query_one("#steps", DataTable)
        room = self.title_room()
        previous_phase = None
        for step in rt.model.steps:
            if step.id not in table.rows:  # left out by the search
                continue
            saved = rt.state.step(step.id)
            status = app.step_status(step.id).value
            phase = step.phase if step.phase != previous_phase else ""
            previous_phase = step.phase
            manual = step.action.kind == "manual"
            note, status_cell = self.waiver_note(saved, status)
            if not note and status != StepStatus.DONE:
                note = app.others_gates.get(step.id, "")  # a team run: the driver's gate
            if status == StepStatus.RUNNING and app.acting != step.id and app.lease_holder is None:
                # Its process was stopped (quit, takeover, crash): nothing runs it now.
                note = "interrupted, nobody is acting: doing it again settles it first"
            title = clip(step.title + ("  (any order)" if step.independent else ""), room)
            for column, value in (
                ("phase", Text(phase, style="bold")),
                ("step", title),
                ("status", status_cell),
                # A manual step's time is the operator's click, not work the tool did.
                ("took", "" if manual else took(saved.started_at, saved.finished_at)),
                ("note", note),
            ):
                # Only what changed: widths are re-measured per update, on every engine change.
                if self._cells.get((step.id, column)) != value:
                    self._cells[(step.id, column)] = value
                    table.update_cell(step.id, column, value, update_width=True)
        self.query_one("#banner", Static).update(self.banner_text())

    @staticmethod
    def waiver_note(saved: StepState, status: str) -> tuple[str, Text]:
        """A waived step reads as waived, never as plain "done", with what it covered."""
        note = saved.note or ""
        if saved.waiver and status != StepStatus.DONE:
            return f"waived: {saved.waiver}", badge(status)
        if status == StepStatus.DONE and saved.waived_checks:
            covered = "; ".join(f"{c}: {r}" for c, r in saved.waived_checks.items())
            cell = Text(f"{STATUS_ICON['done']} waived", style=STATUS_STYLE["waived"])
            return f"done under a waiver ({covered})" + (f"; {note}" if note else ""), cell
        return note, badge(status)

    def banner_text(self) -> Text:
        app = self.rb
        engine = self.engine
        rt = engine.rt
        text = Text()
        demo = app.demo
        if demo is not None and demo.banner:
            text.append(demo.banner + "\n", style="cyan")
        done = sum(1 for s in rt.model.steps if rt.state.step(s.id).status == StepStatus.DONE)
        current = engine.current_step()
        where = f"next: {rt.model.step(current).title}" if current else "every step is done"
        if rt.resumed:
            text.append(f"Resumed run {rt.state.run_id}: ", style="bold yellow")
        else:
            text.append(f"Run {rt.state.run_id}: ", style="bold")
        text.append(f"{done} of {len(rt.model.steps)} steps done; {where}")
        for note in app.notes:
            text.append(f"\n  after a crash: {note}", style="yellow")
        for problem in rt.sessions.access_problems().values():  # the start-up identity check
            text.append(f"\n✗ {problem}", style="bold red")
        return text

    def apply_search(self, query: str) -> None:
        """Only the steps whose id, title, phase, status or note match; the first highlighted."""
        steps, state = self.engine.rt.model.steps, self.engine.rt.state
        status = self.rb.step_status
        shown = [
            s.id
            for s in steps
            if matches(query, s.id, s.title, s.phase, status(s.id).value, state.step(s.id).note)
        ]
        table = self.query_one("#steps", DataTable)
        table.clear()
        self._cells.clear()
        for step_id in shown:
            table.add_row("", "", "", "", "", key=step_id)
        self.redraw()
        self.query_one(SearchBar).show_count(len(shown), len(steps), "steps")

    def search_done(self) -> None:
        self.query_one("#steps", DataTable).focus()

    def action_open_step(self) -> None:
        table = self.query_one("#steps", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self.open(str(key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open(str(event.row_key.value))

    def action_open_next(self) -> None:
        current = self.engine.current_step()
        if current is not None:
            self.open(current)

    def open(self, step_id: str) -> None:
        from screens.step import StepScreen

        self.app.push_screen(StepScreen(step_id))
