"""One step: its instructions, its checks with evidence, and its action.

The action is enabled only when the gate passed or was waived (`check_action`
greys it out otherwise); waivers ask for a typed reason; manual steps ask the
operator to confirm what they did.
"""

from __future__ import annotations

import json
import time
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Markdown, ProgressBar, Sparkline, Static

from runbook.model import ManualAction, Step
from runbook.runner import CheckOutcome
from runbook.state import StepStatus
from runbook.waivers import (
    WaiverRequest,
    failing_blocking,
    needs_environment_typed,
    needs_per_check_reasons,
)
from runbook.watch import metric_series
from screens.clock import RunClock, age
from screens.contract import Premise
from screens.dnsline import RunTop
from screens.footer import RunFooter
from screens.messages import EngineChanged
from screens.watching import WatchPanel
from screens.widgets import (
    ROLLBACK_BINDING,
    RunbookScreen,
    Ticks,
    badge,
    clip,
    refresh_chrome,
)

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # one frame per tick of the app's clock


def series_of(outcomes: list[CheckOutcome]) -> list[float]:
    """The CDC-lag series a check put in its evidence, for the sparkline (the longest metric)."""
    for outcome in outcomes:
        series = metric_series(outcome.result.evidence)
        if series:
            return max(series.values(), key=len)
    return []


_FIXABLE = ("fail", "error", "warn")  # what `f` may fix in the demo


class StepScreen(Ticks, RunbookScreen):
    CSS_PATH = "step.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape", "back", "Back", id="back", tooltip="Back to the overview"),
        # As on the overview: the notices' "n opens it" holds on every step screen too.
        Binding(
            "n",
            "open_next",
            "Next step",
            id="open_next",
            tooltip="The step the run is at now",
            show=False,
        ),
        Binding("r", "rerun_all", "Run checks", id="rerun_all", tooltip="Run every check again"),
        Binding("c", "rerun_one", "Re-run check", id="rerun_one", tooltip="The highlighted one"),
        Binding(
            "a", "do_action", "Do action", id="do_action", tooltip="Enabled when the gate passed"
        ),
        Binding("w", "waive", "Waive", id="waive", tooltip="Accept a failed gate, with a reason"),
        Binding(
            "x", "cancel_wait", "Stop", id="cancel_wait", tooltip="Stop a timed wait or a watch"
        ),
        Binding("f", "demo_fix", "Fix (demo)", id="demo_fix", tooltip="Fix it in the emulator"),
        Binding(
            "p",
            "approve",
            "Approve",
            id="approve",
            tooltip="Approve this step as a second person (your AWS identity; audited)",
        ),
    ]

    def __init__(self, step_id: str) -> None:
        super().__init__()
        self.step_id = step_id

    @property
    def step(self) -> Step:
        return self.engine.rt.model.step(self.step_id)

    def compose(self) -> ComposeResult:
        step = self.step
        yield RunTop()
        with VerticalScroll(id="body"):
            yield Static(id="title")
            yield Markdown(step.instructions or "_No instructions._", id="instructions")
            yield Static("Checks", classes="section")
            yield DataTable(id="checks", cursor_type="row")
            yield Static(id="evidence")
            if step.action.kind == "watch":
                yield WatchPanel(self.step_id, id="watch")
            yield Sparkline([], id="lag")
            yield Static(id="lag-label")
            yield Static(id="hint", markup=False)
        # Progress sits with the action, below the scrolled text: at 80x24 it was
        # below the fold, and a minute of force-migration showed no sign of life.
        with Vertical(id="actions"):
            yield ProgressBar(total=1.0, show_eta=False, id="progress")
            # Text from actions, AWS and the demo: never read as markup.
            yield Static(id="progress-label", markup=False)
            # Why the action waits, over its button: the title saying so may be scrolled
            # away. Its own line: beside a long button it was squeezed to one column.
            yield Static(id="why-not", markup=False)
            with Horizontal(id="action-row"):
                yield Button(self.action_label(), id="act", variant="primary")
        yield RunFooter()

    def action_label(self) -> str:
        action = self.step.action
        label = action.label
        if isinstance(action, ManualAction):
            return f"{label}: {action.confirm}"
        return label

    def on_mount(self) -> None:
        table = self.query_one("#checks", DataTable)
        table.add_column("Check", key="check")
        table.add_column("Status", key="status", width=11)
        table.add_column("Checked", key="checked", width=10)
        table.add_column("Summary", key="summary")
        self.query_one("#lag").display = False
        self.query_one("#progress").display = False
        self.redraw()
        status = self.rb.step_status(self.step_id)
        if status == StepStatus.PENDING and self.step.checks:
            self.rb.run_gate(self.step_id)
        self.rb.count_approvals(self.step_id)
        engine = self.rb.engine
        self.live_checks = engine.live_checks(self.step_id) if engine is not None else []
        if self.live_checks:
            self.set_interval(self.rb.settings.auto_refresh_s, self.refresh_live)
        # Focus without scrolling to it: long instructions put the table below the
        # fold at 80x24, and the screen opened past its title and why it is blocked.
        table.focus(scroll_visible=False)

    def refresh_live(self) -> None:
        status = self.rb.step_status(self.step_id)
        if status not in (StepStatus.DONE, StepStatus.CHECKING, StepStatus.RUNNING):
            self.rb.run_gate(self.step_id, only=self.live_checks)

    def on_engine_changed(self, message: EngineChanged) -> None:
        if message.step_id in (None, self.step_id):
            self.redraw()

    def outcomes(self) -> list[CheckOutcome]:
        return self.rb.live.get(self.step_id, [])

    def redraw(self) -> None:
        refresh_chrome(self)
        app = self.rb
        step = self.step
        status = app.step_status(self.step_id)
        title = Text(f"{step.title}  ", style="bold")
        title.append_text(badge(status.value))
        title.append(f"   phase: {step.phase}   action: {step.action.kind}", style="dim")
        allowed, why = self.engine.can_act(self.step_id)
        if not allowed and status != StepStatus.DONE:
            title.append(f"\n{why}", style="yellow")
        elif status != StepStatus.DONE and (lacking := app.approval_missing.get(self.step_id)):
            title.append(f"\n{lacking}", style="yellow")
        self.query_one("#title", Static).update(title)

        table = self.query_one("#checks", DataTable)
        results = {o.check: o for o in self.outcomes()}
        checking = status == StepStatus.CHECKING
        if table.row_count != len(step.checks):
            table.clear()
            for index, ref in enumerate(step.checks):
                table.add_row(ref.id, "", "", "", key=f"{index}:{ref.id}")
        for index, ref in enumerate(step.checks):
            outcome = results.get(ref.id)
            key = f"{index}:{ref.id}"
            if outcome is None:
                state = badge("checking") if checking else badge("pending")
                table.update_cell(key, "status", state)
                table.update_cell(key, "summary", "")
                continue
            kind = "" if outcome.blocking else " (advisory)"
            table.update_cell(key, "check", f"{ref.id}{kind}", update_width=True)
            table.update_cell(key, "status", badge(outcome.result.status.value))
            summary = clip(outcome.result.summary, self.summary_room())
            table.update_cell(key, "summary", summary, update_width=True)
        self.tick()
        self.show_evidence()

        lag = series_of(self.outcomes()) if step.action.kind != "watch" else []
        for panel in self.query(WatchPanel):
            panel.refresh_view()
        spark = self.query_one("#lag", Sparkline)
        spark.display = bool(lag)
        if lag:
            spark.data = lag
            label = f"CDC lag, last {len(lag)} samples: now {lag[-1]:.0f}s, max {max(lag):.0f}s"
            self.query_one("#lag-label", Static).update(label)

        progress = app.progress.get(self.step_id)
        bar = self.query_one("#progress", ProgressBar)
        bar.display = progress is not None
        progress_label = self.query_one("#progress-label", Static)
        progress_label.display = progress is not None  # no blank line above the button
        if progress is not None:
            fraction, text = progress
            bar.update(total=None if fraction is None else 1.0, progress=fraction or 0.0)
            progress_label.update(text)
        else:
            progress_label.update("")

        hints = []
        if app.gate_errors.get(self.step_id):
            hints.append(f"checks could not run: {app.gate_errors[self.step_id]}")
        if app.demo is not None:
            for outcome in self.outcomes():
                if outcome.result.status.value in ("fail", "error", "skipped"):
                    hint = app.demo.hints.get(outcome.check)
                    if hint:
                        hints.append(f"{outcome.check}: {hint}")
        self.query_one("#hint", Static).update("\n".join(hints))
        button = self.query_one("#act", Button)
        button.disabled = not (allowed and app.acting is None)
        settled = (StepStatus.DONE, StepStatus.RUNNING, StepStatus.CHECKING)
        why_not = self.query_one("#why-not", Static)
        why_not.display = not allowed and status not in settled  # no blank line otherwise
        why_not.update(f"Not yet: {why}" if why_not.display else "")
        button.label = self.action_label() if status != StepStatus.DONE else "Done"
        self.refresh_bindings()

    def summary_room(self) -> int:
        """The summary column gives way at the screen's edge (the evidence below has it all)."""
        table = self.query_one("#checks", DataTable)
        beside = sum(c.get_render_width(table) for k, c in table.columns.items() if k != "summary")
        width = self.size.width or self.app.size.width
        return max(width - beside - 6, 20)  # body padding, column padding, scrollbar

    def tick(self) -> None:
        """When each check last ran, aged on the app's one clock."""
        clock = self.app if isinstance(self.app, RunClock) else None
        found = self.query("#checks").results(DataTable)
        table = next(found, None)
        if table is None:  # the clock ticked while the screen is still being put together
            return
        # A gate being re-run (a live refresh keeps the last results shown) spins here.
        checking = self.rb.step_status(self.step_id) == StepStatus.CHECKING or (
            self.rb.engine is not None and self.rb.engine.refreshing(self.step_id)
        )
        spin = f"{SPINNER[int(time.monotonic()) % len(SPINNER)]} checking"
        for index, ref in enumerate(self.step.checks):
            seconds = clock.check_age(self.step_id, ref.id) if clock is not None else None
            key = f"{index}:{ref.id}"
            if key in table.rows:
                text = spin if checking else "" if seconds is None else age(seconds)
                table.update_cell(key, "checked", text)

    def selected_check(self) -> str | None:
        table = self.query_one("#checks", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key).split(":", 1)[1] if key else None

    def show_evidence(self) -> None:
        check = self.selected_check()
        outcome = next((o for o in self.outcomes() if o.check == check), None)
        panel = self.query_one("#evidence", Static)
        if outcome is None:
            panel.update("")
            return
        text = Text()
        for line in outcome.result.details:
            text.append(f"• {line}\n")
        evidence = {k: v for k, v in outcome.result.evidence.items() if k != "series"}
        if evidence:
            text.append(json.dumps(evidence, indent=2, default=str)[:4000], style="dim")
        panel.update(text)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_evidence()

    # --- actions ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.rb.engine is None:
            return False
        status = self.rb.step_status(self.step_id)
        busy = status in (StepStatus.CHECKING, StepStatus.RUNNING)
        if action == "do_action":
            allowed, _why = self.engine.can_act(self.step_id)
            return True if allowed and self.rb.acting is None else None
        if action == "waive":
            return True if status == StepStatus.BLOCKED else None
        if action == "approve":
            return status != StepStatus.DONE and self.rb.needs_approval(self.step_id)
        if action in ("rerun_all", "rerun_one"):
            return None if busy or not self.step.checks else True
        if action == "cancel_wait":
            return self.rb.acting == self.step_id and self.step.action.kind in ("wait", "watch")
        if action == "demo_fix":
            if self.rb.demo is None:
                return False
            # A warning can have a fix too (the lazy migration's share of users).
            failing = {o.check for o in self.outcomes() if o.result.status.value in _FIXABLE}
            return True if failing & set(self.rb.demo.fixes) else None
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open_next(self) -> None:
        current = self.engine.current_step()
        if current is None:
            self.app.notify("every step is done")
        elif current != self.step_id:
            self.app.switch_screen(StepScreen(current))  # in place: escape still goes back

    def action_approve(self) -> None:
        self.rb.ask_approval(self.step_id)

    def action_rerun_all(self) -> None:
        self.rb.run_gate(self.step_id)

    def action_rerun_one(self) -> None:
        check = self.selected_check()
        if check is not None:
            self.rb.run_gate(self.step_id, only=[check])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "act":
            self.action_do_action()

    def action_do_action(self) -> None:
        from runbook.preview import preview_text
        from screens.confirm import ConfirmScreen

        step = self.step
        env = self.engine.rt.model.migration.environment
        if isinstance(step.action, ManualAction):
            question = f"Confirm that this is done:\n\n  {step.action.confirm}"
        elif step.action.kind in ("none", "wait", "watch"):  # they change nothing in AWS
            self.rb.start_action(self.step_id, confirmed=True)
            return
        else:
            question = f"{self.action_label()} now, in {env.upper()}?\n\n{step.title}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.rb.start_action(self.step_id, confirmed=True)

        runtime = self.engine.rt
        dialog = ConfirmScreen(
            question,
            yes_label=self.action_label(),
            premise=self.premise(),
            preview=lambda: preview_text(runtime, step),  # read in a thread worker
        )
        self.app.push_screen(dialog, answered)

    def action_waive(self) -> None:
        from screens.waiver import WaiverScreen

        model = self.engine.rt.model
        failing = failing_blocking(self.outcomes())
        env = model.migration.environment

        def answered(request: WaiverRequest | None) -> None:
            if request is not None:
                self.rb.start_waiver(self.step_id, request)

        dialog = WaiverScreen(
            self.step.title,
            failing,
            environment=env,
            per_check=needs_per_check_reasons(env, len(failing)),
            type_environment=needs_environment_typed(model, self.step_id),
            premise=self.premise(),
        )
        self.app.push_screen(dialog, answered)

    def premise(self) -> Premise:
        """This step's question stands while nobody else does it, rolls back or acts."""
        engine, step_id, app = self.engine, self.step_id, self.rb
        rolled_back_at = engine.rt.state.dns.rolled_back_at

        def premise() -> str | None:  # the lease as the app last saw it: no S3 call here
            holder = app.lease_holder
            if holder is not None and holder.alive():
                return f"another process is acting: {holder.describe()}"
            return engine.changed_since(step_id, rolled_back_at)

        return premise

    def action_cancel_wait(self) -> None:
        self.rb.cancel_action()

    def action_demo_fix(self) -> None:
        if self.rb.demo is None:
            return
        for outcome in self.outcomes():
            if outcome.result.status.value in _FIXABLE and outcome.check in self.rb.demo.fixes:
                self.rb.apply_demo_fix(outcome.check)
