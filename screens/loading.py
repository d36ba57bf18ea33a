"""The first paint of `runbook run`: the steps as written, while the run loads.

Validating the runbook (pydantic), opening the audit log and the state, and
importing the engine cost more than Textual's own start. On a terminal the
command line therefore hands the app a `Loading`: the outline read from the
raw TOML (`runbook.outline`) and a function that opens the run. The app paints
`LoadingScreen` from the outline, opens the run in a worker, and replaces the
screen with the overview when it has. Until then nothing can be acted on:
`ctrl+r` is remembered and asked as soon as the run has loaded, `q` leaves,
every other key waits. A run that does not open (an invalid runbook, a broken
settings file, a corrupt audit log) closes the app, and the command line
reports the error as it would have before painting. This module imports no
engine and no model: `tests/app/test_loading.py` holds it to that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from runbook.outline import Outline
from screens.quitguard import QUIT_BINDING
from screens.widgets import BAND, ROLLBACK_BINDING, clip

if TYPE_CHECKING:
    from textual.app import App

    from runbook.runtime import Runtime
    from screens.settings import AppSettings

# While loading, only these of the app's actions run; rollback is remembered.
LOADING_ACTIONS = ("quit", "rollback")


@dataclass(frozen=True)
class Loading:
    """What `runbook run` hands the app: the outline to paint and how to open the run."""

    outline: Outline
    open_run: Callable[[], Runtime]  # in a thread of its own; raises what the command reports
    keymap: dict[str, str] = field(default_factory=dict)  # from the raw settings file

    def first_keymap(self) -> dict[str, str]:
        """What of the raw keymap acts while the run loads: the keys of the two actions
        that do. If they collide, neither is remapped (and the settings check after the
        paint refuses the file): `q` must not roll back when it was pressed to leave."""
        given = {b.id: self.keymap.get(str(b.id), b.key) for b in (ROLLBACK_BINDING, QUIT_BINDING)}
        rollback, leave = ({k.strip() for k in keys.split(",")} for keys in given.values())
        if rollback & leave:
            return {}
        return {str(i): self.keymap[str(i)] for i in given if str(i) in self.keymap}


class RunLoaded(Message):
    def __init__(self, runtime: Runtime, settings: AppSettings, warning: str | None) -> None:
        super().__init__()
        self.runtime = runtime
        self.settings = settings
        self.warning = warning


class RunLoadFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class LoadingScreen(Screen[None]):
    """The steps as the overview lists them, in plain text: a table and a footer would
    double the cost of this frame, which is shown for a fraction of a second."""

    DEFAULT_CSS = (
        "LoadingScreen #loading-note { padding: 0 1; margin: 1 0; }\n"
        + "\n".join(  # the environment's band, in the header's colours
            f"LoadingScreen #loading-band.-{env} {{ background: {bg}; color: {fg}; }}"
            for env, (bg, fg) in BAND.items()
        )
    )

    def __init__(self, outline: Outline, rollback_key: str) -> None:
        super().__init__()
        self.outline = outline
        self.rollback_key = rollback_key

    def compose(self) -> ComposeResult:
        env = self.outline.environment
        band = Text(f" {env.upper()}  {clip(self.outline.name, 60)}", style="bold")
        yield Static(band, id="loading-band", classes=f"-{env}")
        yield Static(
            f"Loading the run…  {self.rollback_key} asks to roll DNS back as soon as it has"
            " loaded; q leaves.",
            id="loading-note",
        )
        yield Static(steps_text(self.outline), id="loading-steps")


def steps_text(outline: Outline) -> Text:
    """Phase (where it changes), step and a `loading` status, as the overview lists them."""
    width = max((len(s.phase) for s in outline.steps), default=5)
    text = Text(f" {'Phase':<{width}}  {'Step'}\n", style="bold")
    phase = None
    for step in outline.steps:
        shown = step.phase if step.phase != phase else ""
        phase = step.phase
        text.append(f" {shown:<{width}}  {step.title}  ")
        text.append("… loading\n", style="dim")
    return text


class RunLoading:
    """Mixed into the app: open the run after the first paint, off the event loop."""

    loading: Loading | None = None
    load_error: BaseException | None = None  # why the run did not open, for the command line
    opened: Runtime | None = None  # set by the worker: closed by the command line after a quit
    rollback_asked = False  # ctrl+r while loading: asked once the run has loaded
    load_begun = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_done = threading.Event()

    @property
    def is_loading(self) -> bool:
        return self.loading is not None and cast(Any, self).runtime is None

    def start_loading(self) -> None:
        assert self.loading is not None
        app = cast("App[Any]", self)
        keymap = self.loading.first_keymap()
        key = keymap.get("rollback", ROLLBACK_BINDING.key).split(",")[0]
        app.push_screen(LoadingScreen(self.loading.outline, key))
        app.call_after_refresh(self._begin_opening)  # the paint first, then the imports

    def _begin_opening(self) -> None:
        # A thread of its own, not a Textual worker: once begun it always ends, and
        # sets `load_done`, even when the app quits first; the command line waits on
        # it to close a run that opened after the app had gone.
        self.load_begun = True
        threading.Thread(target=self._open_run, name="open-run", daemon=True).start()

    def _open_run(self) -> None:
        from screens.help import all_bindings
        from screens.settings import load_settings

        assert self.loading is not None
        app = cast("App[Any]", self)
        try:
            runtime = self.opened = self.loading.open_run()
            settings, warning = load_settings(lambda: all_bindings(type(app)))
        except BaseException as exc:  # reported by the command line once the app has closed
            self.load_error = exc
            app.post_message(RunLoadFailed(exc))
            return
        finally:
            self.load_done.set()
        app.post_message(RunLoaded(runtime, settings, warning))

    def opened_runtime(self) -> Runtime | None:
        """After the app has closed: the run it opened, if any (waits for an open begun)."""
        if self.load_begun:
            self.load_done.wait()
        return self.opened

    def on_run_load_failed(self, _message: RunLoadFailed) -> None:
        cast("App[Any]", self).exit(return_code=2)

    def remember_rollback(self) -> None:
        """`ctrl+r` before the run has loaded: the question opens when it has."""
        self.rollback_asked = True
        screen = cast("App[Any]", self).screen
        if isinstance(screen, LoadingScreen):  # said where it goes away with the wait
            screen.query_one("#loading-note", Static).update(
                Text(
                    "Loading the run…  Rollback asked: the question opens as soon as the run "
                    "has loaded; q leaves.",
                    style="bold",
                )
            )
