"""The command palette offers the run's own commands, and no developer tools.

Per step: open it, run its checks, and do its action when it is enabled (asked
exactly as its `a` key asks). Then rollback, the audit review, the source
owner's handoff and the help. Of Textual's own commands only two are kept:
Quit (it asks first while work runs) and Theme, because a light or
high-contrast theme is what makes the screen readable on some terminals and
projectors, and the production band stays whatever the theme. Keys panel,
maximize and screenshot are developer aids that crowd a palette used at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.app import SystemCommand

from screens.contract import RunbookAppApi

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from textual.app import App
    from textual.screen import Screen


class PaletteApp(RunbookAppApi, Protocol):
    """What the palette calls beyond the screens' contract (Textual's own, and handoff)."""

    def action_handoff(self) -> None: ...
    def action_change_theme(self) -> None: ...
    def action_quit(self) -> Awaitable[None]: ...


def step_commands(app: RunbookAppApi) -> Iterator[SystemCommand]:
    if app.engine is None:
        return
    engine = app.engine
    for step in engine.rt.model.steps:
        step_id = step.id
        status = app.step_status(step_id).value
        yield SystemCommand(
            f"Step: {step.title}",
            f"Open {step_id} ({step.phase}, {status})",
            lambda step_id=step_id: app.open_step(step_id),
        )
        if step.checks:
            yield SystemCommand(
                f"Run checks: {step.title}",
                f"Run the gate of {step_id}",
                lambda step_id=step_id: app.run_gate(step_id),
            )
        allowed, why = engine.can_act(step_id)
        if allowed and app.acting is None:
            yield SystemCommand(
                f"Do: {step.action.label} ({step.title})",
                f"The action of {step_id}, asked as its step screen asks; {why}",
                lambda step_id=step_id: do_step(app, step_id),
            )
    yield SystemCommand(
        "Roll back DNS", "To the pre-flip snapshot (asks first)", app.action_rollback
    )


def do_step(app: RunbookAppApi, step_id: str) -> None:
    """Open the step and press its action key there: one way to ask, one way to act."""
    from screens.step import StepScreen

    screen = StepScreen(step_id)
    textual_app = cast("App[Any]", app)
    textual_app.push_screen(screen)
    textual_app.call_after_refresh(screen.action_do_action)


class RunCommands:
    """Mixed into the app: what the palette offers, and the help key."""

    def get_system_commands(self, screen: Screen[Any]) -> Iterator[SystemCommand]:
        app = cast(PaletteApp, self)
        yield from step_commands(app)
        if app.review_path is not None:
            yield SystemCommand("Audit review", "Timeline of the audit log", app.action_review)
        if app.runtime is not None:
            yield SystemCommand(
                "Source owner's changes",
                "The handoff: what the source account's owner must change, with checks",
                app.action_handoff,
            )
        yield SystemCommand("Help: every key", "Each binding, its key and its id", self.action_help)
        yield SystemCommand(
            "Theme", "Change the colours (the production band stays)", app.action_change_theme
        )
        yield SystemCommand(
            "Quit", "Leave; asks first while a wait or an action runs", app.action_quit
        )

    def action_help(self) -> None:
        from screens.help import HelpScreen

        app = cast("App[Any]", self)
        if not isinstance(app.screen, HelpScreen):
            app.push_screen(HelpScreen())
