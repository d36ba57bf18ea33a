"""Small widgets shared by several screens: the run header and status badges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.color import Color as RichColor
from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
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
# The header's band, in literal colours: a theme (ctrl+p, settings) changes the
# theme's variables, never these, so no theme can make production look calm.
BAND = {
    "production": ("#b3001b", "#ffffff"),
    "staging": ("#5c4700", "#ffffff"),
    "rehearsal": ("#1d3557", "#ffffff"),
    "review": ("#303030", "#ffffff"),
}
PRODUCTION_BAND = RichColor.parse(BAND["production"][0])
_ENV_BADGE = {  # on its own band: production's badge is inverted so it reads as a label
    "production": "bold #b3001b on #ffffff",
    "staging": ENV_STYLE["staging"],
    "rehearsal": ENV_STYLE["rehearsal"],
}
_SHORT_ENV = {"production": "PROD", "staging": "STAGE", "rehearsal": "REHEARSAL"}
_MIN_TITLE = 12  # below this the title gives way to a shorter wording of the rest


def badge(status: str) -> Text:
    return Text(f"{STATUS_ICON.get(status, '?')} {status}", style=STATUS_STYLE.get(status, ""))


def clip(text: str, width: int) -> str:
    """`text` in at most `width` cells, an ellipsis marking the cut."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(width - 1, 0)).rstrip() + "…" if width > 0 else ""


class Ticks:
    """Redrawn by the app's one clock each second while its screen is shown (`screens.clock`)."""

    def tick(self) -> None: ...


def refresh_chrome(screen: Widget) -> None:
    """Redraw the header and the DNS line now (the run changed), not at the next tick."""
    for node in screen.walk_children():
        if isinstance(node, Ticks):
            node.tick()


class RunHeader(Ticks, Static):
    """The run's band: environment, title, region, every account, identity, audit head.

    Full width in the environment's colour on every screen. When the line is too
    narrow the title is shortened first, then the labels; the region, the account
    IDs and the audit head are never cut (as a last resort the band takes two lines).
    """

    DEFAULT_CSS = "RunHeader { height: auto; }\n" + "\n".join(
        f"RunHeader.-{env} {{ background: {bg}; color: {fg}; }}" for env, (bg, fg) in BAND.items()
    )

    def on_mount(self) -> None:
        self.refresh_header()

    def on_resize(self) -> None:
        self.refresh_header()

    def tick(self) -> None:
        self.refresh_header()

    def refresh_header(self) -> None:
        app = runbook_app(self)
        width = self.size.width or self.app.size.width
        if app.runtime is None:
            self.set_env("review")
            text = Text(" REVIEW ", style="bold black on cyan")
            text.append(f"  {clip(str(app.review_path), width - 10)}")
            self.update(text)
            return
        self.set_env(app.runtime.model.migration.environment)
        self.update(header_text(app, width))

    def set_env(self, env: str) -> None:
        for name in BAND:
            self.set_class(name == env, f"-{name}")


def header_text(app: RunbookAppApi, width: int) -> Text:
    """The most explicit wording that fits `width`, title shortened first."""
    assert app.runtime is not None
    name = app.runtime.model.migration.name
    for level in (0, 1, 2):
        chunks = _header_chunks(app, level)
        room = width - sum(cell_len(c.plain) for c in chunks) - 2
        if room >= _MIN_TITLE or (level == 2 and room >= 0):
            title = Text(f" {clip(name, room)} " if room >= 4 else "", style="bold")
            return Text("").join([chunks[0], title, *chunks[1:]])
    # Even the shortest wording is too wide: break between chunks, never inside one.
    lines: list[Text] = [Text()]
    for chunk in _header_chunks(app, 2):
        if lines[-1].cell_len and lines[-1].cell_len + chunk.cell_len > width:
            lines.append(Text())
        lines[-1].append_text(chunk)
    return Text("\n").join(lines)


def _header_chunks(app: RunbookAppApi, level: int) -> list[Text]:
    """Environment (with any breach before it), region, accounts, identity, audit head."""
    assert app.runtime is not None
    model = app.runtime.model
    env = model.migration.environment
    accounts = model.accounts
    named = [("source", "src", "S", accounts.source), ("target", "tgt", "T", accounts.target)]
    if accounts.dns is not None:
        named.append(("dns", "dns", "D", accounts.dns))
    regions = {account.region for *_names, account in named}
    chunks: list[Text] = []
    lead = Text()
    breach = app.active_breach()
    if breach is not None:  # a watch's criterion breached: on every screen until rolled back
        alert = "bold black on #ffd000 blink"
        if level == 0:
            where = f"{breach.get('criterion')} ({breach.get('step')})"
            lead.append(f" BREACH: {where} · ctrl+r rolls back ", style=alert)
        elif level == 1:
            lead.append(f" BREACH: {breach.get('criterion')} · ^r ", style=alert)
        else:
            lead.append(" BREACH ^r ", style=alert)
        lead.append(" ")
    lead.append(f" {env.upper() if level < 2 else _SHORT_ENV[env]} ", style=_ENV_BADGE[env])
    chunks.append(lead)
    gap = "  " if level == 0 else " "
    if len(regions) == 1:
        chunks.append(Text(f"{gap}{next(iter(regions))}"))
    accounts_text = Text(gap)
    for index, (label, short, letter, account) in enumerate(named):
        if index:
            accounts_text.append((" → ", " → ", "→")[level] if index == 1 else gap)
        accounts_text.append(f"{(label, short, letter)[level]} {account.account_id}", style="bold")
        if len(regions) > 1:
            accounts_text.append(f" ({account.region})")
    chunks.append(accounts_text)
    identity = app.identity_ok
    if identity is not None:
        mark = ("ids ✓" if identity else "ids ✗") if level == 0 else ("✓" if identity else "✗")
        chunks.append(Text(gap).append(mark, style="bold" if identity else "bold black on #ffd000"))
    audit = ("audit ", "audit ", "")[level] + app.audit_head()
    chunks.append(Text(f"{gap}{audit} "))
    return chunks


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
