"""What a force-migration pass did: its counts and report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from runbook.formatting import plural

SAMPLES = 50  # failures and TOTP users kept in the report; the files hold them all


@dataclass
class Counts:
    seen: int = 0
    created: int = 0  # dry run: would be created
    existing: int = 0  # already in the target: skipped
    external: int = 0  # federated users: their IdP recreates them at sign-in
    listed: int = 0  # not created: no email/phone the target pool takes as username
    failed: int = 0
    group_memberships: int = 0
    reset_required: int = 0
    no_verified_contact: int = 0
    disabled: int = 0
    totp: int = 0
    sms_mfa: int = 0
    sms_mfa_dropped: int = 0
    phone_normalized: int = 0
    phone_unfixable: int = 0
    emails_lowercased: int = 0
    attributes_dropped: int = 0
    throttled: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counts:
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in known})

    def add_row(self, row: Mapping[str, str]) -> None:
        """Count one sub-map row (also used to recount rows written after a checkpoint)."""
        self.seen += 1
        outcome = row["outcome"]
        if outcome in ("created", "would_create"):
            self.created += 1
            self.group_memberships += len([g for g in row["groups"].split(";") if g])
        elif outcome == "existing":
            self.existing += 1
        elif outcome == "external":
            self.external += 1
        elif outcome == "listed":
            self.listed += 1
        flags = set(row["flags"].split(";"))
        self.reset_required += "reset_required" in flags
        self.no_verified_contact += "no_verified_contact" in flags
        self.disabled += "disabled" in flags
        self.totp += "totp" in flags
        self.sms_mfa += "sms_mfa" in flags
        self.sms_mfa_dropped += "sms_mfa_dropped" in flags
        self.phone_normalized += "phone_normalized" in flags
        self.phone_unfixable += "phone_unfixable" in flags
        self.emails_lowercased += "email_lowercased" in flags
        self.attributes_dropped += "attributes_dropped" in flags


@dataclass
class ForceMigrationReport:
    source_user_pool_id: str
    target_user_pool_id: str
    dry_run: bool
    counts: Counts = field(default_factory=Counts)
    resumed: bool = False
    finished: bool = False
    cancelled: bool = False
    missing_groups: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # the first SAMPLES
    totp_users: list[str] = field(default_factory=list)  # the first SAMPLES
    files: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def progress_line(self, estimated: int) -> str:
        """Created, skipped, failed and listed apart: a failure is never a migration."""
        c = self.counts
        verb = "would create" if self.dry_run else "created"
        of = f" of ~{estimated}" if estimated else ""
        return (
            f"{plural(c.seen + c.failed, 'user')}{of}: {verb} {c.created}, {c.existing} already "
            f"in the target, {c.failed} failed, {c.listed + c.no_verified_contact} listed"
        )

    def summary(self) -> str:
        c = self.counts
        if self.dry_run:
            head = (
                f"dry run, nothing changed: would create {plural(c.created, 'user')} "
                f"({plural(c.group_memberships, 'group membership')}); "
                f"{c.existing} already in the target"
            )
        else:
            created = plural(c.created, "user")
            head = f"created {created}; {c.existing} already in the target (skipped)"
        parts = [head]
        if c.failed:
            parts.append(f"{c.failed} failed (not migrated)")
        if c.listed:
            parts.append(
                f"{c.listed} not created: no email/phone the target pool takes as username (listed)"
            )
        if c.external:
            parts.append(f"{c.external} federated users left to their IdP")
        if c.totp:
            parts.append(f"{c.totp} TOTP users must re-register their authenticator")
        if c.sms_mfa:
            parts.append(f"{c.sms_mfa} kept SMS MFA")
        if c.sms_mfa_dropped:
            parts.append(f"{c.sms_mfa_dropped} lost SMS MFA (the target cannot send it; listed)")
        if c.disabled:
            parts.append(f"{c.disabled} disabled (created disabled, sent nothing)")
        if c.phone_unfixable:
            parts.append(f"{c.phone_unfixable} phone numbers not E.164 (dropped)")
        if c.no_verified_contact:
            parts.append(f"{c.no_verified_contact} without a verified email/phone need an invite")
        if self.missing_groups:
            parts.append(f"groups missing in the target: {', '.join(self.missing_groups)}")
        if self.cancelled:
            parts.append("cancelled: run the step again to resume")
        elif not self.finished:
            parts.append("not finished: run the step again to resume")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        return data
