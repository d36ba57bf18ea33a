"""The `cognito.force_migrate` step action: the glue between the engine and force-migration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook.action_types import ActionContext, ActionError, ActionOutcome
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
            cancel=ctx.cancel,
            audit=audit,
        )
    except ForceMigrationError as exc:
        raise ActionError(str(exc)) from None
    ok = report.finished and report.counts.failed == 0
    details = report.to_json()
    del details["summary"]  # the outcome record has its own
    return ActionOutcome(ok, report.summary(), details)
