"""`/` searches a screen: one search bar, used by the overview, the review and the help.

The bar is hidden until `/`; each key filters what the screen lists (every word
typed must appear, in any case); enter keeps the filter and goes back to the
list, escape clears it and closes the bar. A screen mixes in `Searchable`, puts
`SEARCH_BINDING` in its bindings and a `SearchBar` in its layout, and says how
to filter in `apply_search`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

SEARCH_BINDING = Binding(
    "slash", "search", "Search", id="search", tooltip="Filter by text; escape clears it"
)


def matches(query: str, *fields: object) -> bool:
    """Every word of the query appears in one of the fields, ignoring case."""
    text = " ".join(str(f) for f in fields if f is not None).casefold()
    return all(word in text for word in query.casefold().split())


class SearchBar(Horizontal):
    """The search input and how many entries it leaves shown."""

    DEFAULT_CSS = """
    SearchBar { height: 1; display: none; }
    SearchBar.-open { display: block; }
    SearchBar Input, SearchBar Input:focus { width: 1fr; height: 1; border: none; padding: 0 1; }
    SearchBar #search-count { width: auto; height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Clear search", id="search_close", tooltip="Clear and close"),
    ]

    class Changed(Message):
        """The query changed (an empty one shows everything)."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Done(Message):
        """Enter or escape: the list takes the keys back."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search: enter keeps it, escape clears", id="search-input")
        yield Static(id="search-count")

    @property
    def query_text(self) -> str:
        return self.query_one(Input).value

    def open(self) -> None:
        self.add_class("-open")
        self.query_one(Input).focus()

    def show_count(self, shown: int, total: int, noun: str) -> None:
        text = f"{shown} of {total} {noun}" if self.query_text.strip() else ""
        self.query_one("#search-count", Static).update(text)

    def action_close(self) -> None:
        search = self.query_one(Input)
        cleared = bool(search.value)
        search.value = ""  # posts Input.Changed, which shows everything again
        self.remove_class("-open")
        if not cleared:
            self.post_message(self.Changed(""))
        self.post_message(self.Done())

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.remove_class("-open")
        self.post_message(self.Done())


class Searchable:
    """Mixed into a screen that has a `SearchBar`: `/` opens it; the screen filters."""

    def action_search(self) -> None:
        self._search_bar().open()

    def on_search_bar_changed(self, message: SearchBar.Changed) -> None:
        self.apply_search(message.query)

    def on_search_bar_done(self, _message: SearchBar.Done) -> None:
        self.search_done()

    def apply_search(self, query: str) -> None:
        """Show only what matches `query` (everything when it is empty)."""
        raise NotImplementedError

    def search_done(self) -> None:
        """Give the keys back to the screen's list."""

    @property
    def search_query(self) -> str:
        return self._search_bar().query_text

    def _search_bar(self) -> SearchBar:
        widget: Any = self
        assert isinstance(widget, Widget)
        return widget.query_one(SearchBar)
