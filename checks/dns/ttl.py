"""dns.ttl: the cutover record's TTL is low, and has been low long enough to flip.

Lowering the TTL only helps once every resolver has dropped the answer it
cached under the old TTL, so the lowered TTL must have been in force for at
least the previous TTL, and for at least `dns.ttl_lead_hours` (the playbook's
"30-second TTL set 24 hours in advance"). When it was lowered is taken from, in
order: this check's `lowered_at` parameter, the run state, the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from runbook.audit.verify import records_backward
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.dns.flip import flipped_sets
from runbook.dns.records import DnsError, normalize_name, read_record_sets, types_of
from runbook.formatting import duration
from runbook.runtime import AUDIT_FILE

# The engine records both; a reconciled outcome (after a crash) carries only `lowered_at`.
_AUDIT_EVENTS = ("action.outcome", "action.reconciled")


class TtlParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lowered_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the TTL was lowered, if not by this tool: ISO 8601 with a UTC offset, "
            "e.g. 2026-05-01T09:00:00Z. Overrides the run state and the audit log."
        ),
    )
    previous_ttl: int | None = Field(
        default=None,
        ge=0,
        description="The TTL in seconds before it was lowered, if the tool did not record it.",
    )


@dataclass(frozen=True)
class Lowering:
    at: datetime
    previous_ttl: int | None
    source: str
    found_low: bool = False
    """The lower-TTL step found it already low: `at` is when, not when it was lowered."""


def _aware(value: datetime) -> datetime:
    # Everything this tool writes is UTC; a naive time can only be UTC too.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _from_audit(ctx: CheckContext) -> Lowering | None:
    path = ctx.state_dir / AUDIT_FILE
    if not path.exists():
        return None
    for record in records_backward(path):  # newest first, without loading the log
        details = record.get("details")
        if record.get("event") not in _AUDIT_EVENTS or not isinstance(details, dict):
            continue
        if not details.get("lowered_at") or details.get("ok") is False:
            continue
        previous = details.get("previous_ttl")
        return Lowering(
            at=_aware(datetime.fromisoformat(str(details["lowered_at"]))),
            previous_ttl=int(previous) if previous is not None else None,
            source=f"audit log record {record.get('seq')} ({record.get('step')})",
            found_low=details.get("found_low") is True,
        )
    return None


def when_lowered(ctx: CheckContext, params: TtlParams) -> Lowering | None:
    """The first source that knows when; a previous TTL missing there is taken from the next."""
    found: list[Lowering] = []
    if params.lowered_at is not None:
        found.append(Lowering(params.lowered_at, params.previous_ttl, "check parameter"))
    dns_state = ctx.state.dns if ctx.state is not None else None
    if dns_state is not None and dns_state.ttl_lowered_at is not None:
        found.append(
            Lowering(
                _aware(dns_state.ttl_lowered_at),
                dns_state.previous_ttl,
                "run state",
                dns_state.ttl_found_low,
            )
        )
    audit = _from_audit(ctx)
    if audit is not None:
        found.append(audit)
    if not found:
        return None
    first = found[0]
    previous = params.previous_ttl
    if previous is None:
        previous = next((f.previous_ttl for f in found if f.previous_ttl is not None), None)
    return Lowering(first.at, previous, first.source, first.found_low)


class DnsTtlCheck(Check[TtlParams]):
    meta = CheckMeta(
        id="dns.ttl",
        title="The record's TTL is lowered and has been for long enough",
        account="dns",
        blocking=True,
        severity="high",
        iam_actions=("route53:ListResourceRecordSets",),
        remediation=(
            "Run the lower-TTL step (it records when), then wait until the old TTL and "
            "dns.ttl_lead_hours have both passed. If the TTL was lowered by hand, declare when "
            "with this check's `lowered_at` (and `previous_ttl`) parameters in runbook.toml."
        ),
    )
    params_model = TtlParams

    def run(self, ctx: CheckContext, params: TtlParams) -> CheckResult:
        cfg = ctx.runbook.dns
        client = ctx.client(cfg.account, "route53")
        sets = read_record_sets(client, cfg.zone_id, cfg.name)  # every routing type
        evidence: dict[str, Any] = {
            "zone_id": cfg.zone_id,
            "name": normalize_name(cfg.name),
            "type": cfg.type,
            "types": list(types_of(sets)),
            "cutover_ttl": cfg.cutover_ttl,
            "ttl_lead_hours": cfg.ttl_lead_hours,
            "record_sets": len(sets),
        }
        if not any(rs["Type"] == cfg.type for rs in sets):
            return CheckResult.failed(
                f"no {cfg.type} record named {cfg.name} in zone {cfg.zone_id}",
                ["check dns.name, dns.type and dns.zone_id in runbook.toml"],
                **evidence,
            )
        try:
            flipped_sets(cfg, sets)
        except DnsError as exc:  # found now, not at the flip, with the TTL wait ahead
            return CheckResult.failed(f"the flip would be refused: {exc}", **evidence)
        plain = [rs for rs in sets if "AliasTarget" not in rs]
        aliases = len(sets) - len(plain)
        details: list[str] = []
        if aliases:
            details.append(
                f"{aliases} alias record set(s): Route 53 answers them with the alias target's "
                "own TTL (60 s for ELB, CloudFront and S3 targets); there is none to lower"
            )
        if not plain:
            return CheckResult.warned(
                f"{cfg.name} is an alias record: it has no settable TTL",
                details,
                alias=True,
                **evidence,
            )

        ttl = max(int(rs["TTL"]) for rs in plain)  # over every type: AAAA caches as long
        evidence["ttl"] = ttl
        if ttl > cfg.cutover_ttl:
            return CheckResult.failed(
                f"TTL is {ttl}s, above the cutover TTL of {cfg.cutover_ttl}s",
                [*details, "run the lower-TTL step, then wait before flipping"],
                **evidence,
            )

        lowering = when_lowered(ctx, params)
        if lowering is None:
            return CheckResult.failed(
                f"TTL is {ttl}s but there is no record of when it was lowered",
                [
                    *details,
                    "neither the run state nor the audit log records the lower-TTL step",
                    "if it was lowered by hand, declare when on this check in runbook.toml: "
                    'params = { lowered_at = "2026-05-01T09:00:00Z", previous_ttl = 300 }',
                ],
                **evidence,
            )

        now = _aware(ctx.now())
        elapsed = (now - lowering.at).total_seconds()
        lead_s = cfg.ttl_lead_hours * 3600
        needed_s = max(lead_s, float(lowering.previous_ttl or 0))
        ready_at = lowering.at + timedelta(seconds=needed_s)
        evidence.update(
            lowered_at=lowering.at.isoformat(),
            lowered_at_source=lowering.source,
            previous_ttl=lowering.previous_ttl,
            in_force_s=int(elapsed),
            needed_s=int(needed_s),
            ready_at=ready_at.isoformat(),
        )
        if lowering.found_low:
            details.append(
                f"found already low at {lowering.at.isoformat()} (from the {lowering.source}): "
                "how long it had been low before is unknown, so the wait counts from then. If "
                "you know it has been low long enough, waive this gate saying since when and "
                "how you know (audited), or declare lowered_at on this check"
            )
        else:
            details.append(f"lowered at {lowering.at.isoformat()} (from the {lowering.source})")
        if lowering.previous_ttl is None and not lowering.found_low:
            details.append(
                "previous TTL unknown: only ttl_lead_hours is enforced; declare previous_ttl "
                "to also require that the old TTL has run out"
            )
        if elapsed < 0:
            return CheckResult.failed(
                f"lowered_at {lowering.at.isoformat()} is in the future",
                [*details, "correct lowered_at (it needs a UTC offset, e.g. Z)"],
                **evidence,
            )
        if elapsed < needed_s:
            why = (
                f"the previous TTL of {lowering.previous_ttl}s"
                if lowering.previous_ttl is not None and lowering.previous_ttl > lead_s
                else f"ttl_lead_hours={cfg.ttl_lead_hours:g}"
            )
            return CheckResult.failed(
                f"TTL {'found low' if lowering.found_low else 'lowered'} only "
                f"{duration(elapsed)} ago; needs {duration(needed_s)} ({why})",
                [*details, f"ready at {ready_at.isoformat()}"],
                **evidence,
            )
        previous = f" from {lowering.previous_ttl}s" if lowering.previous_ttl is not None else ""
        return CheckResult.passed(
            f"TTL {ttl}s, lowered{previous} {duration(elapsed)} ago", details, **evidence
        )
