"""Command palette entries: open any step, run its checks, roll back, review."""

from __future__ import annotations

from collections.abc import Iterator

from textual.app import SystemCommand

from screens.contract import RunbookAppApi


def step_commands(app: RunbookAppApi) -> Iterator[SystemCommand]:
    if app.engine is None:
        return
    for step in app.engine.rt.model.steps:
        step_id = step.id
        yield SystemCommand(
            f"Step: {step.title}",
            f"Open {step_id} ({step.phase})",
            lambda step_id=step_id: app.open_step(step_id),
        )
        if step.checks:
            yield SystemCommand(
                f"Run checks: {step.title}",
                f"Run the gate of {step_id}",
                lambda step_id=step_id: app.run_gate(step_id),
            )
    yield SystemCommand("Roll back DNS", "To the pre-flip snapshot", app.action_rollback)
    yield SystemCommand("Audit review", "Timeline of the audit log", app.action_review)
