"""Questions whose premise changed while they were open close, saying why.

A step's confirmation, a waiver or the rollback question was asked about the run as
it was: another process may since have done the step, rolled DNS back, or taken the
lease. Each such dialog carries a `premise` (see `screens.contract.Premise`); after the
run changes on disk, every open one is asked, wherever it is in the stack. Screens
opened over a stale question (help, the review, an alert) close with it: they were
opened from it, and the question under them no longer stands.
"""

from __future__ import annotations

from typing import Any

from textual.app import App


def close_stale_questions(app: App[Any]) -> None:
    from screens.confirm import ConfirmScreen
    from screens.takeover import TakeOverScreen
    from screens.waiver import WaiverScreen

    stack = app.screen_stack
    for depth, screen in enumerate(stack):
        if not isinstance(screen, ConfirmScreen | WaiverScreen | TakeOverScreen):
            continue
        if screen.premise is None:
            continue
        why = screen.premise()
        if why is None:
            continue
        for _above in stack[depth + 1 :]:
            app.pop_screen()
        screen.dismiss(None)
        app.notify(f"Closed the question: {why}", severity="warning", timeout=15)
        return  # the stack changed under us; a question below it is asked on the next change
