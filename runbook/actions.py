"""What each kind of step action does, and how it reconciles after a crash.

The engine writes the intent record before calling `perform` and the outcome
after; `reconcile` looks at AWS to decide what happened when a process died
between the two.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from runbook.action_types import ActionContext, ActionError, ActionOutcome
from runbook.action_types import ActionInterrupted as ActionInterrupted  # re-exported
from runbook.action_types import Progress as Progress  # re-exported: the engine imports it here
from runbook.audit.record import EventName
from runbook.audit.verify import records_after
from runbook.dns.flip import already_flipped, apply_and_confirm, flipped_sets, lowered_sets
from runbook.dns.records import DnsError, contains_sets, read_record_sets, same_sets
from runbook.dns.snapshot import Snapshot
from runbook.model import (
    FlipAction,
    ForceMigrateAction,
    LowerTtlAction,
    ManualAction,
    NoAction,
    RemoveTriggerAction,
    RestoreTtlAction,
    StopTaskAction,
    WaitAction,
    WatchAction,
)
from runbook.state import RunState, utcnow

if TYPE_CHECKING:
    from runbook.runtime import Runtime


def describe_intent(ctx: ActionContext) -> dict[str, Any]:
    """What the intent record says will be sent (before anything is)."""
    action = ctx.step.action
    details: dict[str, Any] = {"kind": action.kind}
    if isinstance(action, ManualAction):
        details["confirm"] = action.confirm
    if isinstance(action, LowerTtlAction | FlipAction):
        cfg = ctx.runtime.model.dns
        details.update(zone_id=cfg.zone_id, name=cfg.name, type=cfg.type)
    if isinstance(action, StopTaskAction | RestoreTtlAction | RemoveTriggerAction):
        from runbook import finish_actions  # late: it imports runbook.dns and runbook.cognito

        details.update(finish_actions.intent(action, ctx))
    return details


def perform(ctx: ActionContext) -> ActionOutcome:
    action = ctx.step.action
    if isinstance(action, ManualAction):
        if not ctx.confirmed:
            raise ActionError("not confirmed: the operator must confirm this manual step")
        return ActionOutcome(True, f"operator confirmed: {action.confirm}")
    if isinstance(action, NoAction):
        waived = ctx.runtime.state.step(ctx.step.id).waiver is not None
        return ActionOutcome(True, f"gate {'waived' if waived else 'passed'}; nothing to do")
    if isinstance(action, WaitAction):
        return _wait(ctx, action)
    if isinstance(action, LowerTtlAction):
        return _lower_ttl(ctx)
    if isinstance(action, FlipAction):
        return _flip(ctx, action)
    if isinstance(action, ForceMigrateAction):
        from runbook.cognito.action import force_migrate_action  # late: optional module

        return force_migrate_action(ctx, action)
    if isinstance(action, WatchAction):
        from runbook.watch import watch_action  # late: watch.py imports the runner

        return watch_action(ctx, action)
    if isinstance(action, StopTaskAction | RestoreTtlAction | RemoveTriggerAction):
        from runbook import finish_actions

        return finish_actions.perform(action, ctx)
    raise ActionError(f"unknown action kind {action.kind!r}")


def _wait(ctx: ActionContext, action: WaitAction) -> ActionOutcome:
    """Count down to a deadline kept in the run state, so that a wait interrupted by a
    quit, a crash or a takeover keeps its deadline (a wait is for time to pass: the TTL to
    expire, a soak): done again, it waits for what remains; the stop key ends it for good."""
    step_id = ctx.step.id
    now = utcnow()
    resumed: list[bool] = []

    def begin(state: RunState) -> None:
        saved = state.step(step_id)
        resumed.append(saved.wait_deadline is not None)
        if saved.wait_deadline is None:
            saved.wait_deadline = now + timedelta(seconds=action.seconds)

    deadline = ctx.runtime.update_state(begin).step(step_id).wait_deadline
    assert deadline is not None
    details: dict[str, Any] = {"deadline": deadline.isoformat(), "resumed": resumed[0]}
    prefix = "resumed: " if resumed[0] else ""
    while (left := (deadline - utcnow()).total_seconds()) > 0:
        if ctx.interrupt.is_set():
            raise ActionInterrupted(
                f"wait interrupted with {left:.0f}s left; it keeps its deadline "
                f"({deadline:%H:%M:%S}Z): done again, it waits only for what remains",
                {**details, "left_s": round(left, 1)},
            )
        if ctx.cancel.is_set():
            _end_wait(ctx)
            return ActionOutcome(False, f"wait cancelled after {action.seconds - left:.0f}s")
        ctx.progress(max(0.0, 1 - left / action.seconds), f"{prefix}{left:.0f}s left")
        ctx.sleep(min(1.0, left))
    _end_wait(ctx)
    ctx.progress(1.0, "done")
    summary = f"waited {action.seconds}s" + (
        " (resumed after an interruption)" if resumed[0] else ""
    )
    return ActionOutcome(True, summary, details)


def _end_wait(ctx: ActionContext) -> None:
    def ended(state: RunState) -> None:
        state.step(ctx.step.id).wait_deadline = None

    ctx.runtime.update_state(ended)


def _lower_ttl(ctx: ActionContext) -> ActionOutcome:
    rt = ctx.runtime
    cfg = rt.model.dns
    client = ctx.dns_client()
    current = read_record_sets(client, cfg.zone_id, cfg.name)
    changed, previous = lowered_sets(cfg, current)
    if previous is None:
        return ActionOutcome(
            True,
            f"{cfg.name} is an alias record: it has no settable TTL; nothing sent",
            {"alias": True},
        )
    if not changed:
        return _found_low(ctx, previous)
    ctx.progress(None, "sending UPSERT and waiting for INSYNC")
    result = apply_and_confirm(
        client,
        cfg.zone_id,
        cfg.name,
        changed,
        comment=f"runbook: lower TTL to {cfg.cutover_ttl}s",
        sleep=ctx.sleep,
    )
    if not result.matches:
        raise ActionError(f"TTL change {result.change_id} did not read back as sent")
    lowered_at = utcnow()

    def lowered(state: RunState) -> None:
        state.dns.ttl_lowered_at = lowered_at
        state.dns.previous_ttl = previous
        state.dns.ttl_found_low = False

    rt.update_state(lowered)
    return ActionOutcome(
        True,
        f"TTL lowered from {previous}s to {cfg.cutover_ttl}s ({result.status})",
        {
            "previous_ttl": previous,
            "ttl": cfg.cutover_ttl,
            "lowered_at": lowered_at.isoformat(),
            "change_id": result.change_id,
            "changed": True,
        },
    )


def _found_low(ctx: ActionContext, ttl: int) -> ActionOutcome:
    """The TTL is already at the cutover value: record when it was found so.

    How long it had been low is unknown, so the flip's TTL gate counts from
    now. A time this run recorded before (its own lowering) is kept: finding
    the TTL low again must not move it later.
    """
    cfg = ctx.runtime.model.dns
    now = utcnow()

    def found(state: RunState) -> None:
        if state.dns.ttl_lowered_at is None:
            state.dns.ttl_lowered_at = now
            state.dns.previous_ttl = None
            state.dns.ttl_found_low = True

    dns = ctx.runtime.update_state(found).dns
    at = dns.ttl_lowered_at or now
    details: dict[str, Any] = {
        "ttl": ttl,
        "lowered_at": at.isoformat(),
        "previous_ttl": dns.previous_ttl,
        "found_low": dns.ttl_found_low,
        "changed": False,
    }
    if not dns.ttl_found_low:
        return ActionOutcome(
            True, f"TTL already lowered by this run at {at.isoformat()}; nothing sent", details
        )
    return ActionOutcome(
        True,
        f"TTL already at {ttl}s (cutover TTL {cfg.cutover_ttl}s): nothing sent. Found low "
        f"at {at.isoformat()}; how long before is unknown, so the flip's TTL gate counts "
        "from then",
        details,
    )


def _flip(ctx: ActionContext, action: FlipAction) -> ActionOutcome:
    rt = ctx.runtime
    cfg = rt.model.dns
    client = ctx.dns_client()
    current = [dict(rs) for rs in read_record_sets(client, cfg.zone_id, cfg.name)]
    path = rt.snapshot_path
    taken: Snapshot | None = None
    digest = ""
    if not path.exists():
        taken = Snapshot.take(client, cfg, rt.model.dns_account)
        flipped_sets(cfg, taken.record_sets)  # refuses a type it cannot flip, before any file
        if already_flipped(cfg, current):
            raise ActionError(
                f"{cfg.name} already points at the target and there is no snapshot "
                "of the source to roll back to: nothing sent, no snapshot taken. Restore the "
                "source records (or the snapshot file) before flipping"
            )
        try:
            digest = taken.save(path)
        except FileExistsError:
            taken = None  # another flip saved one first: that one is the pre-flip truth
    if taken is None:
        # Never re-snapshot over an existing one: after a crash mid-flip the
        # live records may already be the target's, and rollback would keep them.
        snapshot = Snapshot.load(path)
        wanted = flipped_sets(cfg, snapshot.record_sets)
        if contains_sets(current, wanted):
            return _flipped(rt, snapshot, "already flipped (found on read-back); nothing sent", {})
        live = [rs for rs in current if rs["Type"] in snapshot.types]
        if not same_sets(live, snapshot.record_sets):
            raise ActionError(
                "the live records match neither the saved snapshot nor the flip target; "
                f"someone changed them. Inspect {cfg.name} and {path} before flipping"
            )
    else:
        snapshot = taken
        rt.audit.record(
            "dns.snapshot_saved", step=ctx.step.id, path=str(path), **snapshot.record(digest)
        )
    wanted = flipped_sets(cfg, snapshot.record_sets)
    ctx.progress(None, "sending UPSERT and waiting for INSYNC")
    result = apply_and_confirm(
        client,
        cfg.zone_id,
        cfg.name,
        wanted,
        comment="runbook: cutover flip to target",
        deadline_s=action.insync_deadline_s,
        sleep=ctx.sleep,
    )
    # A rollback that began meanwhile wins first: its UPSERT may have landed between our
    # INSYNC and our read-back, which then differs from what we sent for that reason.
    superseded = _rollback_since(ctx)
    if superseded is not None:
        return _give_way(ctx, client, snapshot, superseded)
    if not result.matches:
        raise ActionError(
            f"flip {result.change_id} is {result.status} but the records did not read back "
            "as sent; consider rollback"
        )
    return _flipped(
        rt,
        snapshot,
        f"flipped {cfg.name} to the target ({result.status}, read back equal)",
        {"change_id": result.change_id, "sent": wanted},
    )


def _rollback_since(ctx: ActionContext) -> dict[str, Any] | None:
    """A rollback that began after this flip's intent: its snapshot must win."""
    if ctx.intent_seq is None:
        return None
    later = records_after(ctx.runtime.audit.path, ctx.intent_seq)
    return next((r for r in later if r.get("event") == EventName.ROLLBACK_INTENT), None)


def _give_way(
    ctx: ActionContext, client: Any, snapshot: Snapshot, rollback: dict[str, Any]
) -> ActionOutcome:
    """A rollback started while this flip was on the wire: whichever change landed last,
    the end state must be the snapshot. Re-apply it after our own change is INSYNC,
    and report no flip."""
    rt = ctx.runtime
    cfg = rt.model.dns
    again = apply_and_confirm(
        client,
        cfg.zone_id,
        cfg.name,
        snapshot.record_sets,
        comment="runbook: flip gave way to a rollback; snapshot re-applied",
        sleep=ctx.sleep,
    )
    rt.audit.record(
        EventName.DNS_FLIP_SUPERSEDED,
        step=ctx.step.id,
        rollback_seq=rollback.get("seq"),
        change_id=again.change_id,
        snapshot_read_back=again.matches,
    )
    where = "on the snapshot" if again.matches else "NOT confirmed on the snapshot: roll back"
    return ActionOutcome(
        False,
        f"not flipped: a rollback began (seq {rollback.get('seq')}) while the flip was sent; "
        f"the snapshot was re-applied after it, DNS is {where}",
        {"superseded_by": rollback.get("seq"), "change_id": again.change_id},
    )


def _flipped(rt: Runtime, snapshot: Snapshot, summary: str, extra: dict[str, Any]) -> ActionOutcome:
    def flipped(state: RunState) -> None:
        state.dns.flipped_at = utcnow()
        state.dns.rolled_back_at = None
        state.dns.rollback_confirmed = None

    rt.update_state(flipped)
    return ActionOutcome(True, summary, {"snapshot": snapshot.record_sets, **extra})


def reconcile(ctx: ActionContext) -> ActionOutcome | None:
    """After a crash between intent and outcome: did the action take effect?

    Returns the outcome to record, or None when the action must simply be
    offered again (nothing took effect, or the operator has to confirm again).
    """
    action = ctx.step.action
    rt = ctx.runtime
    cfg = rt.model.dns
    if isinstance(action, LowerTtlAction):
        current = read_record_sets(ctx.dns_client(), cfg.zone_id, cfg.name)
        ttls = [int(rs["TTL"]) for rs in current if "TTL" in rs]
        if ttls and max(ttls) <= cfg.cutover_ttl:

            def lowered(state: RunState) -> None:
                state.dns.ttl_lowered_at = state.dns.ttl_lowered_at or utcnow()

            lowered_at = rt.update_state(lowered).dns.ttl_lowered_at
            assert lowered_at is not None
            return ActionOutcome(
                True,
                "reconciled after a crash: the TTL change had been applied",
                {"ttl": max(ttls), "lowered_at": lowered_at.isoformat()},
            )
        return None
    if isinstance(action, FlipAction):
        if not rt.snapshot_path.exists():
            return None  # crashed before the snapshot, so before anything was sent
        snapshot = Snapshot.load(rt.snapshot_path)
        current = read_record_sets(ctx.dns_client(), cfg.zone_id, cfg.name, snapshot.types)
        try:
            wanted = flipped_sets(cfg, snapshot.record_sets)
        except DnsError:
            return None
        if contains_sets(current, wanted):
            return _flipped(rt, snapshot, "reconciled after a crash: the flip had been applied", {})
        return None
    if isinstance(action, WaitAction):
        return _reconcile_wait(ctx)
    if isinstance(action, StopTaskAction | RestoreTtlAction | RemoveTriggerAction):
        from runbook import finish_actions

        return finish_actions.reconcile(action, ctx)
    return None


def _reconcile_wait(ctx: ActionContext) -> ActionOutcome | None:
    """A wait whose deadline passed while nothing ran is done; else it is offered again
    and, started again, counts down to the same deadline."""
    deadline = ctx.runtime.state.step(ctx.step.id).wait_deadline
    if deadline is None or deadline > utcnow():
        return None
    _end_wait(ctx)
    return ActionOutcome(
        True,
        f"reconciled after an interruption: the wait's deadline "
        f"({deadline.isoformat(timespec='seconds')}) passed while the run was stopped",
        {"deadline": deadline.isoformat()},
    )
