"""Every key of the app, with the id to remap it by in the settings file.

Keys are named as the footer names them (`?`, `f1`, `^r`), never by Textual's
internal names (`question_mark`); long descriptions wrap instead of being cut.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from screens.dnsline import RunTop
from screens.footer import RunFooter
from screens.messages import EngineChanged
from screens.search import SEARCH_BINDING, Searchable, SearchBar, matches
from screens.settings_file import settings_path
from screens.widgets import ROLLBACK_BINDING, refresh_chrome


def all_bindings(app_class: type[App[Any]]) -> list[tuple[str, Binding]]:
    """Every binding, the app's own taken from the running app's class (never imported here)."""
    from screens.breach import BreachScreen
    from screens.confirm import ConfirmScreen
    from screens.overview import OverviewScreen
    from screens.review import ReviewScreen
    from screens.step import StepScreen
    from screens.waiver import WaiverScreen

    found = []
    for where, cls in (
        ("everywhere", app_class),
        ("overview", OverviewScreen),
        ("step", StepScreen),
        ("review", ReviewScreen),
        ("confirmation", ConfirmScreen),
        ("waiver", WaiverScreen),
        ("breach alert", BreachScreen),
        ("help", HelpScreen),
        ("search bar", SearchBar),
    ):
        for binding in cls.BINDINGS:
            if isinstance(binding, Binding) and (binding.id != "rollback" or cls is app_class):
                found.append((where, binding))
    return found


def key_names(app: App[Any], binding: Binding, keys: str | None = None) -> str:
    """Each of a binding's keys (or of `keys`, its remapping) as the footer shows it."""
    names = (keys or binding.key).split(",")
    shown = (app.get_key_display(replace(binding, key=k.strip(), key_display=None)) for k in names)
    return ", ".join(shown)


def palette_binding(app: App[Any]) -> Binding:
    """Textual adds the palette's key itself; the help lists it with the others."""
    return Binding(
        app.COMMAND_PALETTE_BINDING,
        "command_palette",
        "Commands",
        tooltip="Command palette: open a step, run its checks, do its action when enabled, "
        "roll back, review, the source owner's changes (its key is fixed)",
    )


HEADS = ("where", "key", "id", "does")


class HelpScreen(Searchable, ModalScreen[None]):
    CSS_PATH = "help.tcss"
    rows: list[tuple[str, str, str, str]]
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape,q", "close", "Close", id="help_close", tooltip="Close the help"),
        SEARCH_BINDING,
    ]

    def compose(self) -> ComposeResult:
        yield RunTop()
        with Vertical(id="dialog"):
            yield Static(
                f"Keys (remap any by its id in {settings_path()}, e.g. "
                '[keymap] rollback = "ctrl+b")',
                id="intro",
            )
            yield SearchBar()
            yield DataTable(id="keys", cursor_type="row")
        yield RunFooter()

    def on_mount(self) -> None:
        app = self.app
        keymap = app._keymap if hasattr(app, "_keymap") else {}
        bindings = [*all_bindings(type(app)), ("everywhere", palette_binding(app))]
        self.rows = [
            (
                where,
                key_names(app, binding, keymap.get(binding.id or "")),
                binding.id or "",
                binding.tooltip or binding.description,
            )
            for where, binding in bindings
        ]
        table = self.query_one("#keys", DataTable)
        table.focus()
        self.call_after_refresh(self.fill)  # the columns' widths come from the table's own

    def on_resize(self) -> None:
        self.call_after_refresh(self.fill)

    def fill(self) -> None:
        """The rows that match the search, in columns as wide as the table allows: the
        description takes what is left and wraps, never cut."""
        table = self.query_one("#keys", DataTable)
        query = self.search_query
        shown = [row for row in self.rows if matches(query, *row)]
        widths = [max([len(h), *(len(r[i]) for r in self.rows)]) for i, h in enumerate(HEADS)]
        # Room for the vertical scrollbar whether or not it shows yet: rows are added below.
        room = table.size.width - table.styles.scrollbar_size_vertical - 2 * len(HEADS)
        widths[-1] = max(room - sum(widths[:-1]), 16)
        table.clear(columns=True)
        for head, width in zip(HEADS, widths, strict=True):
            table.add_column(head, width=width)
        for row in shown:
            table.add_row(*row, height=None)
        self.query_one(SearchBar).show_count(len(shown), len(self.rows), "keys")

    def apply_search(self, query: str) -> None:
        self.fill()

    def search_done(self) -> None:
        self.query_one("#keys", DataTable).focus()

    def on_engine_changed(self, _message: EngineChanged) -> None:
        refresh_chrome(self)

    def action_close(self) -> None:
        self.dismiss(None)
