"""cognito.migration_window: force-migration waits for the lazy-migration window.

Every user force-migrated must reset their password (constraint 3 of the
playbook), while every user who signs in to the target during the window moves
with their password intact. So the force-migration gate waits until the
runbook's window has run since the DNS flip (the playbook: six weeks) and/or a
minimum share of source users has moved (the playbook: 92 %), with a countdown.

Before the flip nobody signs in to the target, so the gate never passes then,
whatever the share: a user force-migrated while traffic is still on the source
would be made to reset at the flip instead of moving lazily. When the flip
happened is taken from, in order: this check's `flipped_at` parameter, the run
state, the audit log. A confirmed rollback clears the flip: the window counts
again from the next flip (conservative: users moved in between stay moved).

The share is counted exactly by `cognito.migration_progress` (every user of
both pools listed, paced), which is why this check is not `live`: re-running
it every 10 s would spend the live source pool's ListUsers quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from checks.cognito.migration_progress import (
    POOL_ID,
    MigrationProgressCheck,
    MigrationProgressParams,
)
from runbook.audit.record import EventName
from runbook.audit.verify import records_backward
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, Status
from runbook.formatting import duration, utc_time
from runbook.runtime import AUDIT_FILE

_FLIP_RECORDS = (EventName.ACTION_OUTCOME, EventName.ACTION_RECONCILED)


class MigrationWindowParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: float = Field(
        default=42.0, ge=0, description="Days of lazy migration after the flip (six weeks)."
    )
    min_migrated_percent: float = Field(
        default=92.0, ge=0, le=100, description="Share of source users already in the target."
    )
    require: Literal["both", "either"] = Field(
        default="both",
        description="Wait for the window and the share (both), or for whichever comes first.",
    )
    flipped_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When DNS was flipped, if not by this tool: ISO 8601 with a UTC offset. "
            "Overrides the run state and the audit log."
        ),
    )
    source_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.source_user_pool_id."
    )
    target_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.target_user_pool_id."
    )
    requests_per_second: float = Field(
        default=10.0, gt=0, le=50, description="Pace of the ListUsers reads per account."
    )

    @model_validator(mode="after")
    def _either_needs_a_share(self) -> MigrationWindowParams:
        if self.require == "either" and self.min_migrated_percent == 0:
            # 0 % is always reached: "either" would pass the moment DNS is flipped.
            raise ValueError('require = "either" needs min_migrated_percent above 0')
        return self


@dataclass(frozen=True)
class Flip:
    at: datetime | None
    """None: not flipped (or rolled back since)."""
    source: str
    rolled_back_at: datetime | None = None
    unconfirmed_rollback: bool = False


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _from_audit(ctx: CheckContext) -> Flip | None:
    """The newest flip or rollback in the audit log, newest first; None if neither."""
    path = ctx.state_dir / AUDIT_FILE
    if not path.exists():
        return None
    flip_steps = {s.id for s in ctx.runbook.steps if s.action.kind == "dns.flip"}
    for record in records_backward(path):
        event, details = record.get("event"), record.get("details")
        if not isinstance(details, dict) or not record.get("time"):
            continue
        at = _aware(datetime.fromisoformat(str(record["time"])))
        where = f"audit log record {record.get('seq')}"
        if event == EventName.ROLLBACK_OUTCOME:
            confirmed = details.get("confirmed") is True
            return Flip(None, where, rolled_back_at=at, unconfirmed_rollback=not confirmed)
        if event in _FLIP_RECORDS and record.get("step") in flip_steps and details.get("ok"):
            return Flip(at, f"{where} ({record.get('step')})")
    return None


def when_flipped(ctx: CheckContext, params: MigrationWindowParams) -> Flip | None:
    if params.flipped_at is not None:
        return Flip(params.flipped_at, "check parameter")
    dns = ctx.state.dns if ctx.state is not None else None
    if dns is not None:
        if dns.rolled_back_at is not None and dns.rollback_confirmed is False:
            return Flip(None, "run state", _aware(dns.rolled_back_at), unconfirmed_rollback=True)
        if dns.flipped_at is not None:
            return Flip(_aware(dns.flipped_at), "run state")
        if dns.rolled_back_at is not None:  # a confirmed rollback cleared the flip
            return Flip(None, "run state", _aware(dns.rolled_back_at))
    return _from_audit(ctx)


class MigrationWindowCheck(Check[MigrationWindowParams]):
    meta = CheckMeta(
        id="cognito.migration_window",
        title="The lazy-migration window after the flip is over",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=("cognito-idp:ListUsers",),
        remediation=(
            "Wait: every user who signs in during the window moves with their password, "
            "every user force-migrated must reset it. The window counts from the DNS flip; "
            "if DNS was flipped by hand, declare when with this check's `flipped_at`."
        ),
    )
    params_model = MigrationWindowParams

    def run(self, ctx: CheckContext, params: MigrationWindowParams) -> CheckResult:
        window_s = params.window_days * 86400
        evidence: dict[str, Any] = {
            "window_days": params.window_days,
            "min_migrated_percent": params.min_migrated_percent,
            "require": params.require,
        }
        flip = when_flipped(ctx, params)
        if flip is None or flip.at is None:
            return self._not_flipped(flip, evidence)

        now = _aware(ctx.now())
        ends_at = flip.at + timedelta(seconds=window_s)
        remaining = (ends_at - now).total_seconds()
        evidence.update(
            flipped_at=flip.at.isoformat(),
            flipped_at_source=flip.source,
            window_ends_at=ends_at.isoformat(),
            window_remaining_s=max(0, int(remaining)),
        )
        if now < flip.at:
            return CheckResult.failed(
                f"flipped_at {flip.at.isoformat()} is in the future",
                ["correct flipped_at (it needs a UTC offset, e.g. Z)"],
                **evidence,
            )
        window_over = remaining <= 0
        ends = f"{utc_time(ends_at.isoformat())} UTC"
        details = [f"DNS flipped at {utc_time(flip.at.isoformat())} UTC (from the {flip.source})"]
        window_text = (
            f"window of {params.window_days:g} days over since {ends}"
            if window_over
            else f"window ends in {duration(remaining)}, at {ends}"
        )

        share_met = True
        share_text = ""
        if params.min_migrated_percent > 0:
            share = self._share(ctx, params)
            if share.status not in (Status.PASS, Status.WARN) or "percent" not in share.evidence:
                # No share to judge (no pools, a pool not found, an empty source pool).
                return CheckResult(
                    status=Status.ERROR if share.status == Status.ERROR else Status.FAIL,
                    summary=f"{window_text}; share migrated unknown: {share.summary}",
                    details=[*details, *share.details],
                    evidence={**evidence, **share.evidence},
                )
            ev = share.evidence
            percent = float(ev["migrated"]) * 100.0 / float(ev["source_users"])
            share_met = percent >= params.min_migrated_percent
            evidence.update(
                source_users=ev["source_users"],
                migrated=ev["migrated"],
                migrated_percent=round(percent, 1),
            )
            share_text = (
                f"{int(percent)}% migrated ({ev['migrated']}/{ev['source_users']}), "
                f"{'at or above' if share_met else 'below'} {params.min_migrated_percent:g}%"
            )
            details.append(
                f"{int(ev['source_users']) - int(ev['migrated'])} source users not yet in the "
                "target would be force-migrated and must reset their password"
            )

        summary = f"{window_text}; {share_text}" if share_text else window_text
        # "either" has a share above 0 (validated): 0 % would be met at once.
        met = window_over and share_met if params.require == "both" else window_over or share_met
        evidence.update(window_over=window_over, share_met=share_met)
        if met:
            return CheckResult.passed(summary, details, **evidence)
        if params.require == "both" and window_over:
            details.append(
                "the window is over but too few users have moved: keep the trigger running "
                "(fewer resets), or waive this gate with the reason"
            )
        return CheckResult.failed(summary, details, **evidence)

    @staticmethod
    def _not_flipped(flip: Flip | None, evidence: dict[str, Any]) -> CheckResult:
        if flip is not None and flip.unconfirmed_rollback:
            assert flip.rolled_back_at is not None
            return CheckResult.failed(
                f"a rollback at {utc_time(flip.rolled_back_at.isoformat())} UTC was not "
                "confirmed: whether traffic is on the target is unknown",
                [f"from the {flip.source}; confirm DNS, then roll back or flip again"],
                **evidence,
                rolled_back_at=flip.rolled_back_at.isoformat(),
            )
        if flip is not None and flip.rolled_back_at is not None:
            return CheckResult.failed(
                f"DNS was rolled back at {utc_time(flip.rolled_back_at.isoformat())} UTC and "
                "not flipped since: the window starts again at the next flip",
                [f"from the {flip.source}"],
                **evidence,
                rolled_back_at=flip.rolled_back_at.isoformat(),
            )
        return CheckResult.failed(
            "DNS has not been flipped: users move lazily only once they sign in to the target",
            [
                "neither the run state nor the audit log records a flip",
                "if DNS was flipped by hand, declare when on this check in runbook.toml: "
                'params = { flipped_at = "2026-05-01T09:00:00Z" }',
            ],
            **evidence,
        )

    @staticmethod
    def _share(ctx: CheckContext, params: MigrationWindowParams) -> CheckResult:
        """cognito.migration_progress's exact count, without its MFA lookups."""
        progress = MigrationProgressParams(
            source_user_pool_id=params.source_user_pool_id,
            target_user_pool_id=params.target_user_pool_id,
            min_migrated_percent=params.min_migrated_percent,
            check_totp=False,
            requests_per_second=params.requests_per_second,
        )
        return MigrationProgressCheck().run(ctx, progress)
