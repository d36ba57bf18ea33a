"""Two people for the irreversible: a step's approvals by other AWS principals.

A step with `approvals = N` (and, in production, any step done under a waiver)
is enabled only once N different AWS principals other than the one acting have
approved it since its gate last ran or was waived. Approvals are audit records
(`approval.given`) in the log everyone reads (the S3 backend's shared chain, or
the local log), so they are counted on evidence, never on a local flag; an
approval older than the gate's last result does not count, and neither does
the actor's own. Identities are STS caller ARNs, not local user names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runbook.audit.verify import read_records
from runbook.formatting import duration, parse_time, plural
from runbook.model import Runbook

if TYPE_CHECKING:
    from runbook.runtime import Runtime

APPROVAL_GIVEN = "approval.given"
APPROVAL_REFUSED = "approval.refused"
ANCHORS = ("gate.finished", "gate.waived")  # approvals must be newer than these
FLUSH_S = 10.0


def required(model: Runbook, step_id: str, *, waived: bool, team: bool) -> int:
    """How many approvals the step needs now. On a run shared by a team, a waiver in
    production needs one too; alone on one machine there is nobody to ask, and a
    production waiver keeps its own rules (a reason per check, the name typed)."""
    need = model.step(step_id).approvals
    if waived and team and model.migration.environment == "production":
        need = max(need, 1)
    return need


def anchor(records: list[dict[str, Any]], step_id: str) -> dict[str, Any] | None:
    """The step's newest gate result or waiver: what an approval approves."""
    found = None
    for record in records:
        if record.get("step") == step_id and record.get("event") in ANCHORS:
            found = record
    return found


def approvers(
    records: list[dict[str, Any]],
    step_id: str,
    actor_arn: str | None,
    *,
    max_age_s: float,
    now: datetime | None = None,
) -> list[str]:
    """Distinct principals, not the actor, whose approval of the step still holds.

    An approval holds while the step's gate says what it said when it was given
    (the same status per check, the same waived checks: `runbook do` re-runs
    the gate, and an unchanged result needs no second approval) and for
    `max_age_s` after the gate it approved ran. A gate that changed, failed
    anew or was waived differently voids every approval given before it.
    """
    now = now or datetime.now(UTC)
    held: dict[str, dict[str, Any]] = {}
    said: tuple[Any, Any] | None = None  # (statuses, waived checks) of the step's gate
    for record in records:
        event, details = record.get("event"), record.get("details") or {}
        if event == "rollback.outcome" and details.get("confirmed") is True:
            held = {}  # as its waivers: the steps done again are approved again
            continue
        if record.get("step") != step_id:
            continue
        if event in ANCHORS:
            now_says = _says(said, event, details)
            if now_says != said:
                held = {}  # approvals older than this gate result do not count
            said = now_says
        elif event == APPROVAL_GIVEN and isinstance(details.get("approver"), str):
            held[details["approver"]] = details
    return [
        arn
        for arn, details in held.items()
        if arn != actor_arn and _age(details.get("approves_time"), now) <= max_age_s
    ]


def drivers(records: list[dict[str, Any]], step_id: str, since: dict[str, Any]) -> set[str]:
    """Who is driving the step since `since`: the principals behind its waiver or its action
    (an attempt refused for lack of approval included). Running the checks is not driving:
    an approver may re-run the gate to see for themselves, from the app or a shell. (An
    actor's own approval never counts for their action anyway: `approvers` leaves it out.)"""
    found = set()
    for record in records:
        if record.get("step") != step_id or int(record.get("seq") or 0) < int(since["seq"]):
            continue
        if record.get("event") in ("gate.waived", "action.refused", "action.intent"):
            arn = (record.get("operator") or {}).get("aws_arn")
            if isinstance(arn, str):
                found.add(arn)
    return found


def _says(said: tuple[Any, Any] | None, event: Any, details: dict[str, Any]) -> tuple[Any, Any]:
    """What the step's gate says after this record: per-check statuses, waived checks."""
    statuses, waived = said if said is not None else (None, None)
    if event == "gate.finished":
        mark = details.get("statuses") if details.get("passed") is True else None
        if mark is None:  # a failed gate: only a waiver of the same failure keeps approvals
            mark = ("failed", details.get("statuses"))
        return mark, (waived if mark == statuses else None)
    checks = sorted(
        str(w.get("check")) for w in details.get("waived_checks") or [] if isinstance(w, dict)
    )
    return statuses, checks


def _age(value: Any, now: datetime) -> float:
    at = parse_time(str(value or ""))
    return (now - at).total_seconds() if at is not None else float("inf")


def missing(rt: Runtime, step_id: str, *, max_age_s: float) -> str | None:
    """Why the step's action may not run yet for lack of approvals, or None."""
    if _needed(rt, step_id) == 0:
        return None
    actor = rt.audit.operator.get("aws_arn")
    if not actor:
        return "approval is required, but this operator's AWS identity is not verified yet"
    if rt.backend is not None and not rt.backend.flush(FLUSH_S):
        return "approvals cannot be counted: the run backend did not answer; nothing was done"
    return _lacking(rt, step_id, actor, max_age_s)


def outstanding(rt: Runtime, step_id: str, *, max_age_s: float) -> str | None:
    """For a screen anyone looks at: the approvals the step still lacks, whoever will act
    (`missing` is the acting operator's view: their own approval never counts)."""
    return _lacking(rt, step_id, None, max_age_s) if _needed(rt, step_id) else None


def _needed(rt: Runtime, step_id: str) -> int:
    waived = rt.state.step(step_id).waiver is not None
    return required(rt.model, step_id, waived=waived, team=_team(rt))


def _lacking(rt: Runtime, step_id: str, actor: str | None, max_age_s: float) -> str | None:
    need = _needed(rt, step_id)
    got = approvers(_records(rt), step_id, actor, max_age_s=max_age_s)
    if len(got) >= need:
        return None
    what = "its waiver" if rt.state.step(step_id).waiver is not None else "its gate"
    return (
        f"needs {plural(need, 'approval')} by another AWS principal since {what} "
        f"({len(got)} so far): "
        f"`runbook approve {step_id}`, or `p` on the step in the app, from another machine "
        "than the driver's"
    )


def _team(rt: Runtime) -> bool:
    return rt.backend is not None and rt.backend.shared


def _records(rt: Runtime) -> list[dict[str, Any]]:
    return rt.backend.records() if rt.backend is not None else read_records(rt.audit.path)


@dataclass(frozen=True)
class Decision:
    ok: bool
    message: str
    record: dict[str, Any] | None = None


def approve(
    rt: Runtime, step_id: str, approver: str, reason: str | None, *, max_age_s: float
) -> Decision:
    """Record `approver`'s approval of the step's current gate, or refuse it (audited)."""
    rt.model.step(step_id)  # KeyError for an unknown step
    if rt.backend is not None and not rt.backend.flush(FLUSH_S):
        return Decision(False, "the run backend did not answer: nothing was approved")
    records = _records(rt)
    since = anchor(records, step_id)
    why = _refusal(rt, step_id, approver, since, records, max_age_s)
    if why is not None:
        rt.audit.record(APPROVAL_REFUSED, step=step_id, approver=approver, reason=why)
        return Decision(False, why)
    assert since is not None
    record = rt.audit.record(
        APPROVAL_GIVEN,
        step=step_id,
        approver=approver,
        reason=reason,
        approves=since.get("event"),
        approves_seq=since.get("seq"),
        approves_time=since.get("time"),
        driven_by=sorted(drivers(records, step_id, since)),
    )
    if rt.backend is not None and not rt.backend.flush(FLUSH_S):
        return Decision(
            True,
            "approval recorded on this machine only (S3 did not answer): run `runbook sync`",
            record,
        )
    return Decision(True, f"approved {step_id} as {approver}", record)


def _refusal(
    rt: Runtime,
    step_id: str,
    approver: str,
    since: dict[str, Any] | None,
    records: list[dict[str, Any]],
    max_age_s: float,
) -> str | None:
    waived = since is not None and since.get("event") == "gate.waived"
    if required(rt.model, step_id, waived=waived, team=_team(rt)) == 0:
        return f"{step_id} requires no approval"
    if since is None:
        return f"{step_id}'s gate has not run yet: there is nothing to approve"
    details = since.get("details") or {}
    if since.get("event") == "gate.finished" and details.get("passed") is not True:
        return f"{step_id}'s gate did not pass: there is nothing to approve (waive it first)"
    age = _age(since.get("time"), datetime.now(UTC))
    if age > max_age_s:
        return f"{step_id}'s gate is stale (it ran {duration(age)} ago): run it again first"
    if approver in drivers(records, step_id, since):
        return (
            f"self-approval refused: {approver} is driving {step_id} (its gate, or an action "
            "waiting for approval); another AWS principal must approve"
        )
    if approver in approvers(records, step_id, None, max_age_s=max_age_s):
        return f"{approver} already approved {step_id} since its gate"
    return None
