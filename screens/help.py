"""Every key of the app, with the id to remap it by in the settings file."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from screens.settings import settings_path
from screens.widgets import ROLLBACK_BINDING


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
    ):
        for binding in cls.BINDINGS:
            if isinstance(binding, Binding) and (binding.id != "rollback" or cls is app_class):
                found.append((where, binding))
    return found


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        ROLLBACK_BINDING,
        Binding("escape,q", "close", "Close", id="help_close", tooltip="Close the help"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(
                f"Keys (remap any by its id in {settings_path()}, e.g. "
                '[keymap] rollback = "ctrl+b")',
                id="intro",
            )
            yield DataTable(id="keys", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.add_columns("where", "key", "id", "does")
        keymap = self.app._keymap if hasattr(self.app, "_keymap") else {}
        for where, binding in all_bindings(type(self.app)):
            keys = keymap.get(binding.id or "", binding.key)
            table.add_row(where, keys, binding.id or "", binding.tooltip or binding.description)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
