"""Where the run stands, a rollback included: the same answer for the app and `runbook do`.

A confirmed rollback sends users back to the source, which is still read-only: the run
resumes at the runbook's after-rollback step (the source owner re-enables writes), and
every step from there on must be done again before DNS can be flipped again: the source
made read-only again, CDC drained again, the flip, the watch and what follows. Their
earlier "done" stays in the audit log. The reset is written with the rollback's own
state change (one atomic write, see `runbook.dns.rollback.run_rollback`), so the app,
`runbook do` and a report read the same run from the state file.

Until a rollback calls for it, an after-rollback step is skipped: it is neither where the
run stands nor does it hold later steps back.
"""

from __future__ import annotations

from runbook.dns.rollback_inputs import StepRef, steps_to_reset
from runbook.model import Runbook
from runbook.state import RunState, StepStatus

NOT_CALLED_FOR = "needed only after a confirmed DNS rollback, and there has been none"


def rollback_called(state: RunState) -> bool:
    """DNS was rolled back (confirmed) and not flipped again since (a flip clears it)."""
    return state.dns.rolled_back_at is not None and state.dns.rollback_confirmed is True


def skipped(model: Runbook, state: RunState, step_id: str) -> bool:
    """An after-rollback step that no rollback calls for now (done or failed show as such)."""
    if not model.step(step_id).after_rollback:
        return False
    saved = state.steps.get(step_id)
    if saved is not None and saved.status != StepStatus.PENDING:
        return False
    return not rollback_called(state)


def reset_on_rollback(model: Runbook) -> tuple[str, ...]:
    """The steps a confirmed rollback sets back to pending, in runbook order.

    From the first after-rollback step (which comes before the steps that make the
    source read-only) to the end; without one, from the flip to the end.
    """
    return steps_to_reset(
        tuple(StepRef(s.id, s.action.kind, s.after_rollback) for s in model.steps)
    )


def first_not_done(model: Runbook, state: RunState) -> str | None:
    """Where the run stands: the first step not done that is not skipped."""
    for step in model.steps:
        if state.step(step.id).status != StepStatus.DONE and not skipped(model, state, step.id):
            return step.id
    return None


def held_by(model: Runbook, state: RunState, step_id: str) -> str | None:
    """The earlier step that must be done first, if any.

    An independent step may be done at any time and never holds later ones; nor does
    a skipped after-rollback step.
    """
    if model.step(step_id).independent:
        return None
    for step in model.steps:
        if step.id == step_id:
            return None
        if step.independent or skipped(model, state, step.id):
            continue
        if state.step(step.id).status != StepStatus.DONE:
            return step.id
    raise KeyError(step_id)
