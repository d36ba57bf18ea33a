"""Overview: phases and steps with live status, where the run resumes, DNS state."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from runbook.dns.records import describe_set
from runbook.dns.snapshot import Snapshot
from runbook.formatting import duration
from runbook.state import StepState, StepStatus
from screens.messages import EngineChanged
from screens.widgets import (
    ROLLBACK_BINDING,
    STATUS_ICON,
    STATUS_STYLE,
    RunbookScreen,
    RunHeader,
    badge,
)


def took(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return ""
    return duration((finished - started).total_seconds())


class OverviewScreen(RunbookScreen):
    CSS_PATH = "overview.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("enter", "open_step", "Open step", id="open_step", tooltip="The highlighted step"),
        Binding("n", "open_next", "Next step", id="open_next", tooltip="Where the run stands"),
    ]

    def compose(self) -> ComposeResult:
        yield RunHeader()
        yield Static(id="banner")
        yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
        yield Static(id="dns-panel")
        yield Footer()

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

    def on_engine_changed(self, _message: EngineChanged) -> None:
        self.redraw()

    def redraw(self) -> None:
        self.query_one(RunHeader).refresh_header()
        app = self.rb
        engine = self.engine
        rt = engine.rt
        table = self.query_one("#steps", DataTable)
        previous_phase = None
        for step in rt.model.steps:
            saved = rt.state.step(step.id)
            status = app.step_status(step.id).value
            phase = step.phase if step.phase != previous_phase else ""
            previous_phase = step.phase
            note, status_cell = self.waiver_note(saved, status)
            title = step.title + ("  (any order)" if step.independent else "")
            for column, value in (
                ("phase", Text(phase, style="bold")),
                ("step", title),
                ("status", status_cell),
                ("took", took(saved.started_at, saved.finished_at)),
                ("note", note),
            ):
                table.update_cell(step.id, column, value, update_width=True)
        self.query_one("#banner", Static).update(self.banner_text())
        self.query_one("#dns-panel", Static).update(self.dns_text())

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
        return text

    def dns_text(self) -> Text:
        app = self.rb
        rt = self.engine.rt
        dns = rt.model.dns
        text = Text(f"DNS {dns.name} {dns.type}: ", style="bold")
        last = app.last_rollback
        if app.rollback_running:
            text.append("rolling back…", style="bold yellow")
        elif last is not None and not last.confirmed:
            text.append("rollback NOT confirmed. By hand:\n", style="bold white on red")
            text.append(last.manual_command)
        elif rt.state.dns.flipped_at is not None and rt.snapshot_path.exists():
            snapshot = Snapshot.load(rt.snapshot_path)
            text.append("flipped — rollback available (ctrl+r) to the snapshot:\n", style="yellow")
            for rs in snapshot.record_sets:
                text.append(f"  {describe_set(rs)}\n")
        elif rt.state.dns.rolled_back_at is not None:
            state = "confirmed" if rt.state.dns.rollback_confirmed else "NOT confirmed"
            text.append(f"rolled back at {rt.state.dns.rolled_back_at:%H:%M:%S}Z, {state}")
        elif rt.state.dns.ttl_lowered_at is not None:
            text.append(
                f"TTL lowered at {rt.state.dns.ttl_lowered_at:%Y-%m-%d %H:%M}Z; not flipped"
            )
        else:
            text.append("not changed yet")
        return text

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
