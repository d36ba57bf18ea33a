"""The `cognito.remove_trigger` step action: UserMigration leaves the target pool, nothing else.

UpdateUserPool resets every setting it is not sent to its default (its API
reference; the Developer Guide names Lambda triggers, the attribute schema, email
and SMS configuration), so the request carries the pool's current settings from
DescribeUserPool, the documented pattern, and the pool is read back and compared.
"""

from __future__ import annotations

import json
from typing import Any

from runbook.action_types import ActionContext, ActionError, ActionOutcome
from runbook.audit.verify import records_backward
from runbook.aws.redact import MASK
from runbook.cognito.journal import CHECKPOINT_FILE
from runbook.model import RemoveTriggerAction

POOL_BEFORE_EVENT = "cognito.pool_before_update"
# DescribeUserPool's name for PoolName; UserPoolTier is the one setting UpdateUserPool
# keeps when it is not sent (its API reference), and sending it could change billing.
_RENAMED = {"PoolName": "Name"}
_NOT_SENT = {"UserPoolId", "UserPoolTier"}


def _function(arn: str) -> str:
    """A Lambda ARN without its version or alias: arn:aws:lambda:REGION:ACCOUNT:function:NAME."""
    return ":".join(arn.split(":")[:7])


def settings(client: Any, pool: dict[str, Any]) -> dict[str, Any]:
    """The pool's settings UpdateUserPool takes, by the operation's input shape.

    Member by member of the SDK's model, so a setting the SDK knows is never dropped.
    """
    members = client.meta.service_model.operation_model("UpdateUserPool").input_shape.members
    out: dict[str, Any] = {}
    for name in members:
        value = pool.get(_RENAMED.get(name, name))
        if name not in _NOT_SENT and value is not None:
            out[name] = value
    # A pool with TemporaryPasswordValidityDays may also describe the deprecated
    # UnusedAccountValidityDays it superseded; sending both is refused ("Please use
    # TemporaryPasswordValidityDays in PasswordPolicy instead of UnusedAccountValidityDays").
    password = out.get("Policies", {}).get("PasswordPolicy", {})
    admin = out.get("AdminCreateUserConfig")
    if "TemporaryPasswordValidityDays" in password and isinstance(admin, dict):
        out["AdminCreateUserConfig"] = {
            k: v for k, v in admin.items() if k != "UnusedAccountValidityDays"
        }
    return out


def update_request(client: Any, pool: dict[str, Any]) -> dict[str, Any]:
    """UpdateUserPool's parameters carrying over every setting the pool has now."""
    return {"UserPoolId": pool["Id"], **settings(client, pool)}


def migration_complete(ctx: ActionContext, action: RemoveTriggerAction) -> tuple[bool, str]:
    """(complete, why): declared on the step, or force-migration finished with no failure."""
    if action.migration_complete:
        return True, "declared on the step (`migration_complete = true`)"
    cognito = ctx.runtime.model.cognito
    assert cognito is not None
    path = ctx.runtime.state_dir / CHECKPOINT_FILE
    if not path.exists():
        return False, "force-migration has not run (no checkpoint in the state directory)"
    checkpoint = json.loads(path.read_bytes())
    if checkpoint.get("target_user_pool_id") != cognito.target_user_pool_id:
        return False, "the force-migration checkpoint is for another target pool"
    if not checkpoint.get("finished"):
        return False, f"force-migration has not finished (stopped at page {checkpoint.get('page')})"
    failed = int(checkpoint.get("counts", {}).get("failed", 0))
    if failed:
        return False, f"force-migration finished with {failed} user(s) failed: run it again"
    return True, f"force-migration finished at {checkpoint.get('finished_at')} with none failed"


def _same(before: Any, now: Any) -> bool:
    """Equal, a value the audit log masked (e.g. PasswordPolicy, by its name) matching any."""
    if before == MASK:
        return True
    if isinstance(before, dict) and isinstance(now, dict):
        return all(_same(before.get(k), now.get(k)) for k in before.keys() | now.keys())
    if isinstance(before, list) and isinstance(now, list):
        return len(before) == len(now) and all(map(_same, before, now))
    return bool(before == now)


def differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Settings other than LambdaConfig that read back otherwise than before."""
    return [
        f"{name}: was {before.get(name)!r}, reads {now.get(name)!r}"
        for name in sorted(before.keys() | now.keys())
        if name != "LambdaConfig" and not _same(before.get(name), now.get(name))
    ]


def remove_trigger(ctx: ActionContext, action: RemoveTriggerAction) -> ActionOutcome:
    """Remove UserMigration (and PostAuthentication when it is the same function)."""
    rt = ctx.runtime
    cognito = rt.model.cognito
    if cognito is None:
        raise ActionError("no [cognito] table in the runbook: the target pool is not named")
    complete, why = migration_complete(ctx, action)
    if not complete:
        raise ActionError(
            f"the migration is not complete: {why}. Nothing sent: without the trigger, a "
            "user still in the source could no longer sign in"
        )
    client = rt.sessions.client("target", "cognito-idp")
    pool = client.describe_user_pool(UserPoolId=cognito.target_user_pool_id)["UserPool"]
    lambdas = dict(pool.get("LambdaConfig") or {})
    migration = lambdas.get("UserMigration")
    details: dict[str, Any] = {"pool_id": pool["Id"], "complete": why}
    if not migration:
        return ActionOutcome(
            True, f"target pool {pool['Id']} has no UserMigration trigger; nothing sent", details
        )
    removed = {"UserMigration": migration}
    post = lambdas.get("PostAuthentication")
    if post and _function(post) == _function(migration):
        removed["PostAuthentication"] = post  # the same Lambda, copying groups from the source
    kept = {k: v for k, v in lambdas.items() if k not in removed}
    before = settings(client, pool)
    request = {**update_request(client, pool), "LambdaConfig": kept}
    # What the pool was, in the audit log before anything is sent: to undo, and to reconcile.
    rt.audit.record(POOL_BEFORE_EVENT, step=ctx.step.id, pool_id=pool["Id"], settings=before)
    ctx.progress(None, f"sending UpdateUserPool without {', '.join(removed)}")
    client.update_user_pool(**request)
    after = client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    now = after.get("LambdaConfig") or {}
    details.update(removed=removed, lambda_config=now)
    problems = [f"{k} is still set" for k in removed if k in now]
    problems += [f"trigger {k} changed" for k, v in kept.items() if now.get(k) != v]
    problems += differences(before, settings(client, after))
    if problems:
        details["differences"] = problems
        return ActionOutcome(
            False,
            f"UpdateUserPool sent, but the pool did not read back as before: {'; '.join(problems)}",
            details,
        )
    return ActionOutcome(
        True,
        f"removed {' and '.join(removed)} from target pool {pool['Id']}; every other "
        "setting read back unchanged",
        details,
    )


def reconcile_remove_trigger(
    ctx: ActionContext, action: RemoveTriggerAction
) -> ActionOutcome | None:
    """No UserMigration on the pool after a crash: done, compared with the settings audited
    before the update; still there: the step is offered again."""
    rt = ctx.runtime
    cognito = rt.model.cognito
    if cognito is None:
        return None
    client = rt.sessions.client("target", "cognito-idp")
    after = client.describe_user_pool(UserPoolId=cognito.target_user_pool_id)["UserPool"]
    if (after.get("LambdaConfig") or {}).get("UserMigration"):
        return None
    before = _pool_before(ctx)
    details: dict[str, Any] = {"pool_id": after["Id"], "lambda_config": after.get("LambdaConfig")}
    problems = differences(before, settings(client, after)) if before is not None else []
    if problems:
        details["differences"] = problems
        return ActionOutcome(
            False,
            "reconciled after a crash: the trigger is gone, but settings differ from those "
            f"audited before the update: {'; '.join(problems)}",
            details,
        )
    return ActionOutcome(
        True, "reconciled after a crash: the UserMigration trigger had been removed", details
    )


def _pool_before(ctx: ActionContext) -> dict[str, Any] | None:
    """The settings audited just before this step's last UpdateUserPool, if it got that far."""
    path = ctx.runtime.audit.path
    if not path.exists():
        return None
    for record in records_backward(path):  # newest first, back to this step's intent
        if record.get("step") != ctx.step.id:
            continue
        if record.get("event") == "action.intent":
            return None
        if record.get("event") == POOL_BEFORE_EVENT:
            found = record.get("details", {}).get("settings")
            return dict(found) if isinstance(found, dict) else None
    return None
