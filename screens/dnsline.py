"""The top of every screen: the run header, and under it the DNS line.

The DNS line says where the record points now and since when. It is read from
the run's state (what this tool and any other shell recorded), never from
Route 53: a redraw must not make an AWS call. On the overview it also shows
what an operator may need at once: the snapshot a rollback returns to, or the
command to roll back by hand when a rollback was not confirmed.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from runbook.dns.records import describe_set
from runbook.dns.snapshot import Snapshot
from runbook.model import AliasFlip, Dns, SimpleFlip
from runbook.state import utcnow
from screens.clock import age
from screens.contract import RunbookAppApi, runbook_app
from screens.leaseline import LeaseLine
from screens.widgets import RunHeader, Ticks, clip


def flip_target(dns: Dns) -> str:
    """What the flip points the record at, in a few words."""
    flip = dns.flip
    if isinstance(flip, SimpleFlip):
        return ", ".join(flip.values)
    if isinstance(flip, AliasFlip):
        return f"alias {flip.dns_name}"
    return f"weight {flip.target_weight} on {flip.target_set_identifier}"


def when(at: datetime, now: datetime) -> str:
    """`09:30:12Z (4m 07s ago)`; the date too when it is not today."""
    shown = f"{at:%H:%M:%S}Z" if at.date() == now.date() else f"{at:%Y-%m-%d %H:%M}Z"
    return f"{shown} ({age((now - at).total_seconds())})"


def dns_status(app: RunbookAppApi, now: datetime) -> tuple[Text, list[str]]:
    """One line, and the detail lines the overview adds under it."""
    assert app.runtime is not None
    runtime = app.runtime
    cfg = runtime.model.dns
    state = runtime.state.dns
    line = Text(f"DNS {cfg.name} {cfg.type} ", style="bold")
    detail: list[str] = []
    last = app.last_rollback
    if app.rollback_running:
        line.append("rolling back to the snapshot…", style="bold yellow")
        if app.rollback_notes:  # against a dead endpoint it retries until its deadline
            line.append(f" {app.rollback_notes[-1]}")
    elif (last is not None and not last.confirmed) or (
        state.rolled_back_at is not None and state.rollback_confirmed is False
    ):  # a flip since clears rolled_back_at, not rollback_confirmed
        at = f" at {when(state.rolled_back_at, now)}" if state.rolled_back_at else ""
        line.append(
            f"rollback NOT confirmed{at}: may still point at the target", style="bold white on red"
        )
        if last is not None and last.manual_command:
            detail.append(f"By hand: {last.manual_command}")
    elif state.flipped_at is not None and not (
        state.rollback_confirmed
        and state.rolled_back_at is not None
        and state.rolled_back_at > state.flipped_at
    ):  # a confirmed rollback after the flip wins, however the state was merged
        line.append(f"→ target {flip_target(cfg)}", style="bold yellow")
        line.append(f" · flipped {when(state.flipped_at, now)} · ctrl+r rolls back")
        if runtime.snapshot_path.exists():
            snapshot = Snapshot.load(runtime.snapshot_path)
            detail += [f"rollback returns to: {describe_set(rs)}" for rs in snapshot.record_sets]
    elif state.rolled_back_at is not None:
        line.append("→ source again", style="bold green")
        line.append(f" · rolled back {when(state.rolled_back_at, now)}, confirmed")
    elif state.ttl_lowered_at is not None:
        verb = "found low" if state.ttl_found_low else f"lowered to {cfg.cutover_ttl}s"
        line.append("→ source", style="bold")
        line.append(f" · TTL {verb} {when(state.ttl_lowered_at, now)}; not flipped")
    else:
        line.append("→ source", style="bold")
        line.append(" · not changed by this run")
    return line, detail


class DnsLine(Ticks, Static):
    """Docked under the header; `detail=True` (the overview) adds the lines that matter."""

    DEFAULT_CSS = """
    DnsLine { height: auto; max-height: 6; padding: 0 1; background: $panel; }
    """

    def __init__(self, *, detail: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail = detail

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def tick(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        app = runbook_app(self)
        self.display = app.runtime is not None
        if app.runtime is None:
            return
        line, detail = dns_status(app, utcnow())
        width = (self.size.width or self.app.size.width) - 2
        if line.cell_len > width:
            line.truncate(width, overflow="ellipsis")
        if self.detail:
            for extra in detail:
                line.append(f"\n{clip(extra, width)}")
        self.update(line)


class RunTop(Vertical):
    """Docked on top of every screen, modals included: the run header, then the DNS line.

    One container, because widgets docked to the same edge overlap in Textual.
    """

    DEFAULT_CSS = """
    RunTop { dock: top; height: auto; }
    """

    def __init__(self, *, detail: bool = False) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        yield RunHeader()
        yield DnsLine(detail=self.detail, id="dns-panel" if self.detail else None)
        yield LeaseLine()
