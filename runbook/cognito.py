"""Cognito force-migration of the users who never signed in.

Not built yet: the step action reports that plainly instead of pretending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.actions import ActionContext, ActionOutcome
    from runbook.model import ForceMigrateAction


def force_migrate_action(ctx: ActionContext, action: ForceMigrateAction) -> ActionOutcome:
    from runbook.actions import ActionError

    raise ActionError(
        "Cognito force-migration is not available in this version; "
        f"nothing was sent for step {ctx.step.id!r}"
    )
