"""The runbook as data: pydantic models for `runbook.toml`.

Every model forbids unknown keys so a typo is an error, not a silently ignored
setting. Cross-field rules that need a reason in the message (the DNS zone may
not live in the source account, a role must belong to its account) live here
too, so `runbook validate` and `runbook schema` see one definition.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ACCOUNT_ID = r"^\d{12}$"
ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
REGION = r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$"
STEP_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
ZONE_ID = r"^(?:/hostedzone/)?[A-Z0-9]{1,32}$"
# A DMS task identifier, or its ARN.
DMS_TASK = (
    r"^(?:arn:aws(?:-[a-z]+)*:dms:[a-z0-9-]+:\d{12}:task:[A-Za-z0-9-]+"
    r"|[A-Za-z][A-Za-z0-9-]{0,254})$"
)
HOSTNAME = r"^(?:\*\.)?(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)+[A-Za-z]{2,63}\.?$"

AccountName = Literal["source", "target", "dns"]
Environment = Literal["production", "staging", "rehearsal"]


class Strict(BaseModel):
    """Base for every runbook table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backend(Strict):
    """A run shared by a team in S3: conditional writes, and Object Lock if the bucket has it."""

    url: str = Field(
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[\w./-]*)?$",
        description="s3://bucket/prefix: audit records, state, lease and DNS snapshot.",
    )
    account: Literal["target", "audit"] = Field(
        default="target",
        description="Whose session reaches the bucket: target, or [accounts.audit].",
    )
    retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Object Lock retention of each audit record; needs a bucket with Object Lock.",
    )


class Notify(Strict):
    """Best-effort notifications of flips, rollbacks, waivers, approvals, breaches, takeovers."""

    sns_topic_arn: str | None = Field(
        default=None, pattern=r"^arn:aws(?:-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$"
    )
    webhook_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$", description="Slack-compatible JSON is posted."
    )
    account: Literal["target", "audit"] = "target"


class Migration(Strict):
    """What this run is, and where its files live."""

    name: str = Field(min_length=1, max_length=120, description="Shown in the header.")
    environment: Environment = Field(
        description="production, staging or rehearsal; production is shown in red."
    )
    state_dir: str = Field(
        default=".runbook",
        description="Audit log, run state and DNS snapshot; relative to the runbook file.",
    )
    ticket: str | None = Field(default=None, description="Change ticket, copied into the audit.")
    backend: Backend | None = Field(
        default=None, description="A run shared by a team in S3; without it, the state_dir only."
    )


class Account(Strict):
    """One AWS account and how to reach it, following the SDK's conventions."""

    account_id: str = Field(pattern=ACCOUNT_ID, description="The 12-digit account ID.")
    region: str = Field(pattern=REGION, description="e.g. eu-west-1.")
    profile: str | None = Field(default=None, description="Named profile (SSO works too).")
    role_arn: str | None = Field(
        default=None, description="Role to assume in this account, with `external_id`."
    )
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)
    session_name: str = Field(default="runbook", pattern=r"^[\w+=,.@-]{2,64}$")

    @field_validator("role_arn")
    @classmethod
    def _arn_shape(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN.match(value):
            raise ValueError(
                f"malformed role ARN {value!r}: expected arn:aws:iam::<12 digits>:role/<name>"
            )
        return value

    @model_validator(mode="after")
    def _role_in_account(self) -> Account:
        if self.role_arn is not None:
            match = ROLE_ARN.match(self.role_arn)
            assert match is not None  # checked by the field validator
            if match.group(1) != self.account_id:
                raise ValueError(
                    f"role_arn belongs to account {match.group(1)}, "
                    f"but account_id is {self.account_id}"
                )
        elif self.external_id is not None:
            raise ValueError("external_id is only used with role_arn")
        return self


class Accounts(Strict):
    """The source (read-only, always), the target, and optionally a DNS account."""

    source: Account
    target: Account
    dns: Account | None = Field(
        default=None, description="Account holding the hosted zone, if not the target."
    )
    audit: Account | None = Field(
        default=None, description="Account holding the run backend's bucket, if not the target."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Accounts:
        if self.source.account_id == self.target.account_id:
            raise ValueError("source and target are the same account")
        if self.dns is not None and self.dns.account_id == self.source.account_id:
            raise ValueError(
                "the DNS account is the source account: the flip writes to the hosted zone, "
                "and the source account is read-only"
            )
        if self.audit is not None and self.audit.account_id == self.source.account_id:
            raise ValueError("the audit account is the source account, which is read-only")
        return self


class SimpleFlip(Strict):
    """Replace the record's values with the target's (A, AAAA or CNAME)."""

    mode: Literal["simple"]
    values: list[str] = Field(min_length=1, description="The target's addresses or name.")
    values_by_type: dict[Literal["A", "AAAA", "HTTPS", "SVCB"], list[str]] = Field(
        default_factory=dict,
        description=(
            "Target values for the other record types at the name (e.g. AAAA beside A): "
            "every type present is flipped in the same batch, or the flip is refused."
        ),
    )


class AliasFlip(Strict):
    """Point an alias record at the target's load balancer or distribution."""

    mode: Literal["alias"]
    hosted_zone_id: str = Field(pattern=r"^Z[A-Z0-9]{1,32}$")
    dns_name: str = Field(min_length=1)
    evaluate_target_health: bool = False


class WeightedFlip(Strict):
    """Move all weight from the source's record set to the target's, in one batch."""

    mode: Literal["weighted"]
    source_set_identifier: str = Field(min_length=1)
    target_set_identifier: str = Field(min_length=1)
    target_weight: int = Field(default=100, ge=1, le=255)

    @model_validator(mode="after")
    def _two_sets(self) -> WeightedFlip:
        if self.source_set_identifier == self.target_set_identifier:
            raise ValueError("source_set_identifier and target_set_identifier must differ")
        return self


Flip = Annotated[SimpleFlip | AliasFlip | WeightedFlip, Field(discriminator="mode")]


class Dns(Strict):
    """The record the cutover flips, and where its zone lives."""

    account: str = Field(
        default="target", description="`target` or `dns`: never the read-only source."
    )
    zone_id: str = Field(pattern=ZONE_ID)
    name: str = Field(
        pattern=HOSTNAME, max_length=254, description="The record's name, e.g. app.example.com."
    )
    type: Literal["A", "AAAA", "CNAME"] = "A"
    cutover_ttl: int = Field(default=30, ge=1, le=3600, description="TTL during cutover.")
    ttl_lead_hours: float = Field(
        default=24.0, ge=0, description="How long the lowered TTL must be in force before flip."
    )
    flip: Flip

    @field_validator("account")
    @classmethod
    def _not_source(cls, value: str) -> str:
        if value == "source":
            raise ValueError(
                "the hosted zone may not be in the source account: the flip and the rollback "
                "write to it, and the source account is read-only; use `target` or `dns`"
            )
        if value not in ("target", "dns"):
            raise ValueError(f"account must be `target` or `dns`, not {value!r}")
        return value


class CheckRef(Strict):
    """A check gating a step, with its parameters (validated against the check)."""

    id: str = Field(pattern=r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$", description="e.g. dns.ttl")
    params: dict[str, Any] = Field(default_factory=dict)
    blocking: bool | None = Field(
        default=None, description="Override the check's own blocking flag (advisory if false)."
    )
    timeout_s: float | None = Field(default=None, gt=0, le=900)


class ManualAction(Strict):
    """The operator does something outside the tool and confirms it."""

    label: ClassVar[str] = "Confirm done"  # the action key's words on the step screen
    kind: Literal["manual"]
    confirm: str = Field(min_length=1, description="What the operator confirms having done.")


class NoAction(Strict):
    """A gate only: the step is done when its checks pass."""

    label: ClassVar[str] = "Mark done"  # the action key's words on the step screen
    kind: Literal["none"]


class WaitAction(Strict):
    """A timed wait, shown as a countdown."""

    label: ClassVar[str] = "Start the wait"  # the action key's words on the step screen
    kind: Literal["wait"]
    seconds: int = Field(ge=1, le=7 * 24 * 3600)


class LowerTtlAction(Strict):
    """Lower the record's TTL to `dns.cutover_ttl`, recording when."""

    label: ClassVar[str] = "Lower the TTL"  # the action key's words on the step screen
    kind: Literal["dns.lower_ttl"]


class FlipAction(Strict):
    """Snapshot the record, then flip it to the target."""

    label: ClassVar[str] = "Flip DNS"  # the action key's words on the step screen
    kind: Literal["dns.flip"]
    insync_deadline_s: float = Field(default=180, gt=0, le=1800)


class ForceMigrateAction(Strict):
    """Create the users who never signed in in the target pool (reset required)."""

    label: ClassVar[str] = "Force-migrate users"  # the action key's words on the step screen
    kind: Literal["cognito.force_migrate"]
    rate_per_second: float = Field(default=10.0, gt=0, le=40)
    dry_run: bool = False


class WatchAction(Strict):
    """Hold for a window after the flip, re-running the step's checks; a failed one is a breach."""

    label: ClassVar[str] = "Start watching"  # the action key's words on the step screen
    kind: Literal["watch"]
    window_s: float = Field(gt=0, le=7 * 24 * 3600, description="How long to watch, e.g. 1800.")
    interval_s: float = Field(default=30, gt=0, le=3600, description="Seconds between rounds.")
    on_breach: Literal["offer", "rollback"] = Field(
        default="offer",
        description=(
            "`offer`: a breach stops the watch and offers rollback; `rollback`: a criterion "
            "that failed rolls DNS back at once (audited with the reason)."
        ),
    )

    @model_validator(mode="after")
    def _interval_within_window(self) -> WatchAction:
        if self.interval_s > self.window_s:
            raise ValueError("interval_s is longer than window_s: the window would hold one round")
        return self


class StopTaskAction(Strict):
    """Stop the DMS replication task in the target account: stopped, never deleted."""

    label: ClassVar[str] = "Stop replication"  # the action key's words on the step screen
    kind: Literal["dms.stop_task"]
    task_id: str = Field(
        pattern=DMS_TASK, description="The task's identifier or ARN, in the target account."
    )
    deadline_s: float = Field(default=900, gt=0, le=3600, description="Wait this long for stopped.")


class RestoreTtlAction(Strict):
    """Set the record's TTL back to the value recorded before the lower-TTL step."""

    label: ClassVar[str] = "Restore the TTL"  # the action key's words on the step screen
    kind: Literal["dns.restore_ttl"]
    ttl: int | None = Field(
        default=None,
        ge=1,
        le=2147483647,
        description=(
            "The TTL to restore when none was recorded (the lower-TTL step found it already "
            "low, or it was lowered by hand); overrides a recorded value."
        ),
    )
    insync_deadline_s: float = Field(default=180, gt=0, le=1800)


class RemoveTriggerAction(Strict):
    """Remove the UserMigration trigger from the target pool once every user has moved."""

    label: ClassVar[str] = "Remove the trigger"  # the action key's words on the step screen
    kind: Literal["cognito.remove_trigger"]
    migration_complete: bool = Field(
        default=False,
        description=(
            "Declare the migration complete when this tool's force-migration did not finish "
            "it (e.g. the rest of the users were moved another way)."
        ),
    )


Action = Annotated[
    ManualAction
    | NoAction
    | WaitAction
    | LowerTtlAction
    | FlipAction
    | ForceMigrateAction
    | WatchAction
    | StopTaskAction
    | RestoreTtlAction
    | RemoveTriggerAction,
    Field(discriminator="kind"),
]


class Step(Strict):
    """One step of the playbook: instructions, the checks that gate it, its action."""

    id: str = Field(pattern=STEP_ID)
    title: str = Field(min_length=1)
    phase: str = Field(min_length=1)
    instructions: str = Field(default="", description="Markdown shown on the step screen.")
    independent: bool = Field(
        default=False, description="May be done out of order; does not hold later steps back."
    )
    after_rollback: bool = Field(
        default=False,
        description=(
            "Needed only after a DNS rollback (e.g. the source owner re-enables writes): "
            "skipped until one happens. At each confirmed rollback this step and every "
            "later one go back to pending, so the run resumes here."
        ),
    )
    checks: list[CheckRef] = Field(default_factory=list)
    action: Action
    approvals: int = Field(
        default=0, ge=0, le=3, description="Approvals by other AWS principals before the action."
    )

    @model_validator(mode="after")
    def _watch_has_criteria(self) -> Step:
        if self.action.kind == "watch" and not any(c.blocking is not False for c in self.checks):
            raise ValueError("a watch step needs at least one blocking check: its criteria")
        if self.after_rollback and (self.independent or self.action.kind == "dns.flip"):
            # It is where the run resumes after a rollback: it must hold the later steps.
            raise ValueError("an after_rollback step may not be independent, nor the flip")
        return self


class Cognito(Strict):
    """Source and target user pools, for the Cognito checks and force-migration."""

    source_user_pool_id: str = Field(pattern=r"^[\w-]+_[0-9a-zA-Z]+$")
    target_user_pool_id: str = Field(pattern=r"^[\w-]+_[0-9a-zA-Z]+$")
    case_insensitive_emails: bool = True
    mfa_challenge: Literal["refuse", "accept_password"] = Field(
        default="accept_password",
        description=(
            "What the UserMigration Lambda does when the source answers a verified password "
            "with an MFA challenge: migrate (SMS MFA kept where the target can send it, other "
            "factors listed for re-enrolment) or refuse (left to force-migration)."
        ),
    )
    default_country_code: str | None = Field(
        default=None,
        pattern=r"^\+?[1-9][0-9]{0,3}$",
        description=(
            "Country calling code (e.g. 44) given to phone numbers stored without one, "
            "so they become E.164; without it such numbers are listed, never guessed."
        ),
    )


class Settings(Strict):
    """Engine tuning."""

    check_timeout_s: float = Field(default=30.0, gt=0, le=900)
    rollback_deadline_s: float = Field(default=120.0, gt=0, le=1800)


class Runbook(Strict):
    """A whole runbook: `runbook.toml`."""

    migration: Migration
    accounts: Accounts
    dns: Dns
    cognito: Cognito | None = None
    settings: Settings = Field(default_factory=Settings)
    notify: Notify | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _dns_account_declared(self) -> Runbook:
        if self.dns.account == "dns" and self.accounts.dns is None:
            raise ValueError("dns.account is `dns` but there is no [accounts.dns] table")
        uses_audit = [
            t for t in (self.migration.backend, self.notify) if t and t.account == "audit"
        ]
        if uses_audit and self.accounts.audit is None:
            raise ValueError("account is `audit` but there is no [accounts.audit] table")
        return self

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def account(self, name: str) -> Account:
        account: Account | None = getattr(self.accounts, name, None)
        if account is None:
            raise KeyError(name)
        return account

    @property
    def dns_account(self) -> Account:
        return self.account(self.dns.account)
