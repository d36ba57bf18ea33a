"""The `cognito.force_migrate` step action: the glue between the engine and force-migration.

It stops between users, as a cancel does, when the engine's `interrupt` is set: the
app quitting, or another operator taking the run's lease over. Then it pauses as a
wait does (`ActionInterrupted`, the intent left open): its journal keeps its place,
and whoever does the step next resumes it. Without this, a takeover left it
creating users beside the new holder's run, each asking for the same missing users.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from runbook.action_types import ActionContext, ActionError, ActionInterrupted, ActionOutcome
from runbook.cognito.force_migrate import ForceMigrationError, force_migrate

if TYPE_CHECKING:
    from runbook.model import ForceMigrateAction


def force_migrate_action(ctx: ActionContext, action: ForceMigrateAction) -> ActionOutcome:
    """The `cognito.force_migrate` step action."""
    cognito = ctx.runtime.model.cognito
    if cognito is None:
        raise ActionError("no [cognito] table in the runbook: the user pools are not named")
    step = ctx.step.id

    def audit(event: str, **details: Any) -> None:
        ctx.runtime.audit.record(event, step=step, **details)

    stop, watching = _stop_on_cancel_or_interrupt(ctx)
    try:
        report = force_migrate(
            ctx.runtime.sessions.client("source", "cognito-idp"),
            ctx.runtime.sessions.client("target", "cognito-idp"),
            source_pool=cognito.source_user_pool_id,
            target_pool=cognito.target_user_pool_id,
            state_dir=ctx.runtime.state_dir,
            rate_per_second=action.rate_per_second,
            dry_run=action.dry_run,
            case_insensitive_emails=cognito.case_insensitive_emails,
            default_country_code=cognito.default_country_code,
            ses_client=ctx.runtime.sessions.client("target", "ses"),
            progress=ctx.progress,
            cancel=stop,
            audit=audit,
        )
    except ForceMigrationError as exc:
        raise ActionError(str(exc)) from None
    finally:
        watching.set()
    ok = report.finished and report.counts.failed == 0
    details = report.to_json()
    del details["summary"]  # the outcome record has its own
    if report.cancelled and ctx.interrupt.is_set() and not ctx.cancel.is_set():
        raise ActionInterrupted(
            f"force-migration paused after {report.counts.seen} users; "
            "doing the step again resumes it where it stopped",
            details,
        )
    return ActionOutcome(ok, report.summary(), details)


def _stop_on_cancel_or_interrupt(ctx: ActionContext) -> tuple[threading.Event, threading.Event]:
    """An event set once the operator cancels or the engine interrupts (a polled flag);
    and the event that ends the watching thread."""
    stop, done = threading.Event(), threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if ctx.cancel.is_set() or ctx.interrupt.is_set():
                stop.set()
                return

    threading.Thread(target=watch, name="force-migrate-stop", daemon=True).start()
    return stop, done
