"""The footer: the keys that matter most first, and only keys that fit whole.

Textual's footer lists the focused widget's keys, then the screen's, then the
app's, and cuts the line where the terminal ends: at 80 columns the step
screen showed "a Do actio" and neither quit nor help. Here rollback comes
first, then the screen's action, back (or quit), help, then the rest in the
screen's order, as many as fit; every key is in the help screen (`?`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # the footer's own key widget

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.events import Resize
    from textual.screen import Screen

# Lower comes first. Binding ids: the app's, and each screen's action and way back.
RANK = {
    "rollback": 0,
    "do_action": 1,
    "open_step": 1,
    "back": 2,
    "review_back": 2,
    "handoff_back": 2,
    "help_close": 2,
    "breach_ack": 2,
    "quit": 3,
    "help": 4,
}
OTHER = 5
COMPACT_BELOW = 120  # columns: narrower terminals get the tighter spacing
PALETTE_FROM = 100  # columns: narrower ones leave ctrl+p to the help screen


def key_width(key: str, description: str, *, compact: bool) -> int:
    """Cells a FooterKey takes, margin included (see FooterKey's and Footer's CSS)."""
    if compact:
        return cell_len(key) + 1 + cell_len(description) + 1
    return cell_len(key) + 2 + cell_len(description) + 1


class RunFooter(Footer):
    """Footer ordered by importance, dropping (not cutting) what does not fit."""

    def __init__(self) -> None:
        super().__init__()
        self._width = 0
        self._shown: tuple[object, ...] = ()  # what the keys showed when last composed

    def on_resize(self, event: Resize) -> None:
        width = event.size.width
        if width != self._width:
            self._width = width
            self.compact = width < COMPACT_BELOW
            self.show_command_palette = width >= PALETTE_FROM
            self.call_after_refresh(self._recompose_if_changed)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Follow the bindings even while the terminal has not got focus (a tmux pane
        in the background, or before the first focus event): Textual's footer keeps
        whatever it showed then, which at start-up was the keys of a passing widget."""
        self._bindings_ready = True
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        """Rebuild the keys only when what they show changed: each engine change refreshes
        the bindings, and a rebuild (new widgets, their styles) cost 30-60 ms of the event
        loop each time, while checks run and the rollback key waits its turn."""
        if not self.is_attached:
            return
        shown = (self._width, self.compact, tuple(self._signature()))
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def _signature(self) -> list[tuple[str, str, bool]]:
        palette = self.app.COMMAND_PALETTE_BINDING
        found = [(b.key, b.description, e) for b, e, _t in self.shown_bindings()]
        if self.show_command_palette and palette in self.screen.active_bindings:
            _node, binding, enabled, _tooltip = self.screen.active_bindings[palette]
            found.append((binding.key, binding.description, enabled))
        return found

    def shown_bindings(self) -> list[tuple[Binding, bool, str]]:
        """Each action once, its first binding, by rank then the screen's own order."""
        active = self.screen.active_bindings
        found: dict[str, tuple[Binding, bool, str]] = {}
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in found:
                found[binding.action] = (binding, enabled, tooltip or "")
        # A screen key the focused table shadows with a hidden one of its own (the
        # overview's enter: the table selects the row, and the screen opens it).
        for own in type(self.screen).BINDINGS:
            if not isinstance(own, Binding) or not own.show:
                continue
            shadow = [active.get(k) for k in own.key.split(",")]
            if own.action not in found and all(a and not a.binding.show for a in shadow):
                found[own.action] = (own, True, own.tooltip)
        ordered = sorted(found.values(), key=lambda item: RANK.get(item[0].id or "", OTHER))
        return ordered

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self._width or self.app.size.width
        room = width
        palette = self.app.COMMAND_PALETTE_BINDING
        active = self.screen.active_bindings
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette in active:
            _node, binding, enabled, _tooltip = active[palette]
            shown = key_width(self.app.get_key_display(binding), binding.description, compact=False)
            room -= shown + 2  # its border and right padding
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )
        for binding, enabled, tooltip in self.shown_bindings():
            display = self.app.get_key_display(binding)
            needed = key_width(display, binding.description, compact=self.compact)
            if needed > room:
                break  # the rest is in the help screen; never half a key
            room -= needed
            yield FooterKey(
                binding.key,
                display,
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
