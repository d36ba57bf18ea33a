"""The actions that finish the migration: stop replication, restore the TTL, remove the trigger.

Each acts on the target account (the TTL on the hosted zone's account), never on
the source; each reads first, so a repeat after success sends nothing; and each
has a `reconcile_*` that reads AWS to settle a crash between intent and outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook.action_types import ActionContext, ActionError, ActionOutcome
from runbook.audit.verify import records_backward
from runbook.aws.dms import find_task
from runbook.cognito.remove_trigger import reconcile_remove_trigger, remove_trigger
from runbook.dns.flip import apply_and_confirm
from runbook.dns.records import describe_set, read_record_sets, strip_set
from runbook.model import RemoveTriggerAction, RestoreTtlAction, StopTaskAction

# --- dms.stop_task ------------------------------------------------------------------------

STOPPED = "stopped"
# DescribeReplicationTasks statuses in which nothing is replicated and nothing will
# start by itself: there is nothing to stop.
_IDLE = {"stopped", "failed", "ready"}
# Passing through: wait for them to settle before deciding (`stopping` after our own stop).
_SETTLING = {"starting", "stopping", "modifying", "creating", "testing", "moving", "resuming"}
POLL_S = 10.0


def _describe_task(client: Any, task_id: str) -> dict[str, Any]:
    task = find_task(client, task_id, with_settings=False)
    if task is None:
        raise ActionError(
            f"DMS replication task {task_id} not found in the target account: nothing sent"
        )
    return task


def _wait_settled(
    ctx: ActionContext,
    client: Any,
    task_id: str,
    deadline_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the task leaves the passing states, or the deadline; return the last read."""
    end = clock() + deadline_s
    while True:
        task = _describe_task(client, task_id)
        status = str(task.get("Status"))
        if status not in _SETTLING or clock() + POLL_S > end or ctx.cancel.is_set():
            return task
        ctx.progress(None, f"task {task_id} is {status}; waiting for it to stop")
        ctx.sleep(POLL_S)


def stop_task(ctx: ActionContext, action: StopTaskAction) -> ActionOutcome:
    """StopReplicationTask on the target's task, then wait for `stopped`. Never a delete."""
    client = ctx.runtime.sessions.client("target", "dms")
    task = _describe_task(client, action.task_id)
    before = str(task.get("Status"))
    sent = False
    if before in _SETTLING:
        task = _wait_settled(ctx, client, action.task_id, action.deadline_s)
    status = str(task.get("Status"))
    if status == "running":
        ctx.progress(None, f"sending StopReplicationTask for {action.task_id}")
        client.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])
        sent = True
        task = _wait_settled(ctx, client, action.task_id, action.deadline_s)
        status = str(task.get("Status"))
    details = {
        "task_id": action.task_id,
        "task_arn": task.get("ReplicationTaskArn"),
        "status_before": before,
        "status": status,
        "stop_sent": sent,
        "stop_reason": task.get("StopReason"),
    }
    if status == STOPPED:
        said = "stopped" if sent else f"already stopped; nothing sent (was {before})"
        return ActionOutcome(
            True, f"DMS task {action.task_id} {said}; it is kept, not deleted", details
        )
    if status in _IDLE:
        return ActionOutcome(
            True,
            f"DMS task {action.task_id} is {status}: it replicates nothing, so there is "
            "nothing to stop; nothing sent. It is kept, not deleted",
            details,
        )
    if sent:
        return ActionOutcome(
            False,
            f"StopReplicationTask sent, but task {action.task_id} is still {status} after "
            f"{action.deadline_s:.0f}s: run the step again to keep waiting",
            details,
        )
    raise ActionError(
        f"DMS task {action.task_id} is {status}: nothing sent; run the step again once it "
        "has settled"
    )


def reconcile_stop_task(ctx: ActionContext, action: StopTaskAction) -> ActionOutcome | None:
    """Stopped (or idle) after a crash: done. Running or stopping: the step is offered again,
    and `stop_task` sends nothing to a task that is already stopping; it waits."""
    client = ctx.runtime.sessions.client("target", "dms")
    task = _describe_task(client, action.task_id)
    status = str(task.get("Status"))
    if status not in _IDLE:
        return None
    return ActionOutcome(
        True,
        f"reconciled after a crash: DMS task {action.task_id} is {status} (kept, not deleted)",
        {"task_id": action.task_id, "task_arn": task.get("ReplicationTaskArn"), "status": status},
    )


# --- dns.restore_ttl ----------------------------------------------------------------------

# The engine records both; a reconciled lowering carries no previous TTL.
_OUTCOME_EVENTS = ("action.outcome", "action.reconciled")


@dataclass(frozen=True)
class RecordedTtl:
    ttl: int
    source: str


def recorded_ttl(ctx: ActionContext, action: RestoreTtlAction) -> RecordedTtl:
    """The TTL to restore: the step's `ttl`, else the one the lower-TTL step recorded.

    Refuses, saying why, when nothing was recorded: the TTL was found already low
    (its earlier value is unknown), or the lowering was only reconciled after a crash.
    """
    if action.ttl is not None:
        return RecordedTtl(action.ttl, "the step's `ttl` parameter")
    rt = ctx.runtime
    dns = rt.state.dns
    if dns.previous_ttl is not None and not dns.ttl_found_low:
        return RecordedTtl(dns.previous_ttl, "run state (the lower-TTL step)")
    if rt.audit.path.exists():
        for record in records_backward(rt.audit.path):  # newest first
            details = record.get("details")
            if record.get("event") not in _OUTCOME_EVENTS or not isinstance(details, dict):
                continue
            if details.get("ok") is False or not details.get("lowered_at"):
                continue
            if details.get("previous_ttl") is not None and not details.get("found_low"):
                return RecordedTtl(
                    int(details["previous_ttl"]), f"audit log record {record.get('seq')}"
                )
            break  # the newest lowering recorded no value: an older one is not this TTL's
    why = (
        "the lower-TTL step found the TTL already low, so its earlier value is unknown"
        if dns.ttl_found_low
        else "neither the run state nor the audit log records the TTL before it was lowered"
    )
    raise ActionError(
        f"no TTL to restore: {why}. Nothing sent. Say which on this step's action, "
        'e.g. action = { kind = "dns.restore_ttl", ttl = 300 }'
    )


def _restorable(
    ctx: ActionContext, current: list[dict[str, Any]], ttl: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(sets at the cutover TTL, with the restored TTL), (sets left alone: at another TTL).

    Only the sets at the cutover TTL are the lowering's (or the flip's); a set at any
    other TTL was set so by someone else, and is named, never overwritten.
    """
    cutover = ctx.runtime.model.dns.cutover_ttl
    changed, left = [], []
    for record_set in current:
        if "AliasTarget" in record_set:
            continue  # alias records have no TTL
        if int(record_set["TTL"]) == cutover and cutover != ttl:
            changed.append({**strip_set(record_set), "TTL": ttl})
        elif int(record_set["TTL"]) != ttl:
            left.append(record_set)
    return changed, left


def restore_ttl(ctx: ActionContext, action: RestoreTtlAction) -> ActionOutcome:
    """UPSERT every record set at the name still at the cutover TTL back to the recorded TTL."""
    cfg = ctx.runtime.model.dns
    wanted = recorded_ttl(ctx, action)
    client = ctx.dns_client()
    current = read_record_sets(client, cfg.zone_id, cfg.name)
    if not current:
        raise ActionError(f"no record named {cfg.name} in zone {cfg.zone_id}: nothing sent")
    changed, left = _restorable(ctx, current, wanted.ttl)
    details: dict[str, Any] = {
        "restored_ttl": wanted.ttl,
        "restored_from": wanted.source,
        "cutover_ttl": cfg.cutover_ttl,
        "left_alone": [describe_set(rs) for rs in left],
    }
    note = f"; left alone (not at the cutover TTL): {len(left)}" if left else ""
    if not changed:
        if all("AliasTarget" in rs for rs in current):
            return ActionOutcome(
                True, f"{cfg.name} has only alias records: no TTL to restore; nothing sent", details
            )
        return ActionOutcome(
            True,
            f"TTL already {wanted.ttl}s (from {wanted.source}); nothing sent{note}",
            {**details, "changed": False},
        )
    ctx.progress(None, f"sending UPSERT (TTL {wanted.ttl}s) and waiting for INSYNC")
    result = apply_and_confirm(
        client,
        cfg.zone_id,
        cfg.name,
        changed,
        comment=f"runbook: restore TTL to {wanted.ttl}s",
        deadline_s=action.insync_deadline_s,
        sleep=ctx.sleep,
    )
    if not result.matches:
        raise ActionError(f"TTL change {result.change_id} did not read back as sent")
    return ActionOutcome(
        True,
        f"TTL restored to {wanted.ttl}s (from {wanted.source}) on {len(changed)} record "
        f"set(s) ({result.status}, read back equal){note}",
        {**details, "changed": True, "change_id": result.change_id, "sent": changed},
    )


def reconcile_restore_ttl(ctx: ActionContext, action: RestoreTtlAction) -> ActionOutcome | None:
    """Restored if no set at the name is still at the cutover TTL and one has the recorded one."""
    cfg = ctx.runtime.model.dns
    try:
        wanted = recorded_ttl(ctx, action)
    except ActionError:
        return None  # the step refuses before sending anything: nothing can have changed
    current = read_record_sets(ctx.dns_client(), cfg.zone_id, cfg.name)
    changed, _ = _restorable(ctx, current, wanted.ttl)
    ttls = [int(rs["TTL"]) for rs in current if "TTL" in rs]
    if changed or wanted.ttl not in ttls:
        return None  # an UPSERT repeats safely: offer the step again
    return ActionOutcome(
        True,
        f"reconciled after a crash: the TTL is {wanted.ttl}s (from {wanted.source})",
        {"restored_ttl": wanted.ttl, "restored_from": wanted.source},
    )


# --- dispatch (from runbook.actions) ------------------------------------------------------

FinishAction = StopTaskAction | RestoreTtlAction | RemoveTriggerAction


def intent(action: FinishAction, ctx: ActionContext) -> dict[str, Any]:
    """What the intent record says will be changed, and where."""
    if isinstance(action, StopTaskAction):
        return {"account": "target", "task_id": action.task_id, "operation": "StopReplicationTask"}
    if isinstance(action, RestoreTtlAction):
        cfg = ctx.runtime.model.dns
        out: dict[str, Any] = {"account": cfg.account, "zone_id": cfg.zone_id, "name": cfg.name}
        try:
            wanted = recorded_ttl(ctx, action)
            out.update(ttl=wanted.ttl, ttl_from=wanted.source)
        except ActionError as exc:
            out["ttl_unknown"] = str(exc)  # the step will refuse; the record says why
        return out
    cognito = ctx.runtime.model.cognito
    pool = cognito.target_user_pool_id if cognito is not None else None
    return {"account": "target", "pool_id": pool, "removes": "UserMigration"}


def perform(action: FinishAction, ctx: ActionContext) -> ActionOutcome:
    if isinstance(action, StopTaskAction):
        return stop_task(ctx, action)
    if isinstance(action, RestoreTtlAction):
        return restore_ttl(ctx, action)
    return remove_trigger(ctx, action)


def reconcile(action: FinishAction, ctx: ActionContext) -> ActionOutcome | None:
    if isinstance(action, StopTaskAction):
        return reconcile_stop_task(ctx, action)
    if isinstance(action, RestoreTtlAction):
        return reconcile_restore_ttl(ctx, action)
    return reconcile_remove_trigger(ctx, action)
