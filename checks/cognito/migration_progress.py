"""cognito.migration_progress: how many source users have already moved to the target.

Advisory. Users move lazily, on their first sign-in to the target; the rest
are force-migrated after cutover with a password reset. TOTP secrets cannot be
exported, so a source user with an authenticator app will have to register
it again: those still to migrate are counted apart.

Reads are paced: the source pool serves live users, and ListUsers (about 30
requests a second) and AdminGetUser share per-account quotas with them.

An empty source pool is nothing to judge, never "100 % migrated": it warns,
since a wrong pool ID is likelier than a pool with no users.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

POOL_ID = r"^[\w-]+_[0-9a-zA-Z]+$"
PAGE_SIZE = 60  # ListUsers' maximum
TOTP = "SOFTWARE_TOKEN_MFA"


class MigrationProgressParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.source_user_pool_id."
    )
    target_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.target_user_pool_id."
    )
    min_migrated_percent: float = Field(
        default=90.0, ge=0, le=100, description="Warn below this share of source users moved."
    )
    match_email: bool | None = Field(
        default=None,
        description=(
            "Also count a source user as moved when a target user has the same email, "
            "compared case-insensitively (for pools whose usernames are generated). "
            "Default: cognito.case_insensitive_emails, else false."
        ),
    )
    check_totp: bool = Field(
        default=True,
        description="Look up the MFA settings of users not yet moved (one AdminGetUser each).",
    )
    max_mfa_lookups: int = Field(
        default=1000, ge=0, description="At most this many AdminGetUser calls per run."
    )
    mfa_time_budget_s: float = Field(
        default=15.0,
        ge=0,
        description=(
            "Stop the MFA lookups after this long, so the check ends within its timeout "
            "(the TOTP count is then a floor)."
        ),
    )
    requests_per_second: float = Field(
        default=10.0,
        gt=0,
        le=50,
        description="Pace of reads per account, leaving the live app its share of the quotas.",
    )


class Pacer:
    """At most `rate` calls a second; the first call does not wait."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def _attr(user: dict[str, Any], name: str) -> str | None:
    for attr in user.get("Attributes", []):
        if attr.get("Name") == name:
            return str(attr.get("Value"))
    return None


def list_users(client: Any, pool: str, pacer: Pacer) -> Iterator[dict[str, Any]]:
    pages = client.get_paginator("list_users").paginate(
        UserPoolId=pool, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    pacer.wait()
    for page in pages:
        yield from page.get("Users", [])
        pacer.wait()  # before the paginator sends the next request


class MigrationProgressCheck(Check[MigrationProgressParams]):
    meta = CheckMeta(
        id="cognito.migration_progress",
        title="Share of source users already migrated to the target pool",
        account="both",
        blocking=False,
        severity="medium",
        iam_actions=("cognito-idp:ListUsers", "cognito-idp:AdminGetUser"),
        remediation=(
            "Keep the UserMigration trigger running until most users have signed in; after "
            "cutover, force-migrate the rest (they reset their password). Tell TOTP users "
            "they will have to set up their authenticator app again."
        ),
    )
    params_model = MigrationProgressParams

    def run(self, ctx: CheckContext, params: MigrationProgressParams) -> CheckResult:
        cognito = ctx.runbook.cognito
        source_pool = params.source_user_pool_id or (
            cognito.source_user_pool_id if cognito else None
        )
        target_pool = params.target_user_pool_id or (
            cognito.target_user_pool_id if cognito else None
        )
        if source_pool is None or target_pool is None:
            return CheckResult.errored(
                "no user pools configured",
                ["set [cognito] source/target_user_pool_id, or this check's params"],
            )
        match_email = (
            params.match_email
            if params.match_email is not None
            else bool(cognito and cognito.case_insensitive_emails)
        )
        source = ctx.client("source", "cognito-idp")
        target = ctx.client("target", "cognito-idp")
        source_pacer = Pacer(params.requests_per_second)
        evidence: dict[str, Any] = {
            "source_user_pool_id": source_pool,
            "target_user_pool_id": target_pool,
            "match_email": match_email,
            "threshold_percent": params.min_migrated_percent,
        }

        try:
            target_users = list(list_users(target, target_pool, Pacer(params.requests_per_second)))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            return CheckResult.failed(f"target user pool {target_pool} not found", [], **evidence)
        try:
            source_users = list(list_users(source, source_pool, source_pacer))
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            return CheckResult.failed(f"source user pool {source_pool} not found", [], **evidence)
        if not source_users:
            # Nothing to judge: a live source pool with no users is more likely a wrong ID.
            return CheckResult.warned(
                f"source pool {source_pool} has no users: nothing to migrate; check the pool ID",
                [
                    f"target pool {target_pool} has {len(target_users)} users"
                    + ("; are the pool IDs swapped?" if target_users else "")
                ],
                **evidence,
                source_users=0,
                target_users=len(target_users),
            )
        target_names = {user["Username"] for user in target_users}
        target_emails = {email.casefold() for u in target_users if (email := _attr(u, "email"))}

        pending: list[str] = []
        by_email = 0
        sms_mfa = 0
        for user in source_users:
            email = _attr(user, "email")
            if user.get("MFAOptions"):
                sms_mfa += 1  # legacy per-user SMS MFA: the phone number carries over
            if user["Username"] in target_names:
                continue
            if match_email and email and email.casefold() in target_emails:
                by_email += 1
                continue
            pending.append(user["Username"])

        total = len(source_users)
        migrated = total - len(pending)
        percent = 100.0 * migrated / total
        evidence.update(
            source_users=total,
            target_users=len(target_names),
            migrated=migrated,
            matched_by_email=by_email,
            not_migrated=len(pending),
            percent=round(percent, 1),
            sms_mfa_users=sms_mfa,
        )
        details = [
            f"{migrated} of {total} source users are in the target pool"
            + (f" ({by_email} matched by email)" if by_email else ""),
        ]
        # Floor, so 99.8% never reads as 100%.
        summary = f"{int(percent)}% migrated ({migrated}/{total})"
        if params.check_totp:
            totp, checked = self._totp(source, source_pool, pending, params, source_pacer)
            evidence.update(totp_users_not_migrated=totp, mfa_checked=checked)
            summary += f"; {totp} TOTP users will need to re-register"
            details.append(
                f"{totp} of the {len(pending)} not yet migrated use an authenticator app (TOTP): "
                "its secret cannot be exported, so they set it up again in the target"
            )
            if checked < len(pending):
                details.append(
                    f"MFA settings checked for {checked} of {len(pending)} users (max_mfa_lookups="
                    f"{params.max_mfa_lookups}, mfa_time_budget_s={params.mfa_time_budget_s:g}): "
                    "the TOTP count is a floor"
                )
        if sms_mfa:
            details.append(f"{sms_mfa} source users have legacy SMS MFA options")
        if percent < params.min_migrated_percent:
            details.append(
                f"below the {params.min_migrated_percent:g}% threshold: {len(pending)} users "
                "will be force-migrated and must reset their password"
            )
            return CheckResult.warned(summary, details, **evidence)
        return CheckResult.passed(summary, details, **evidence)

    @staticmethod
    def _totp(
        source: Any,
        pool: str,
        usernames: list[str],
        params: MigrationProgressParams,
        pacer: Pacer,
    ) -> tuple[int, int]:
        """(TOTP users, users checked) among those not yet migrated."""
        totp = checked = 0
        deadline = time.monotonic() + params.mfa_time_budget_s
        for username in usernames[: params.max_mfa_lookups]:
            if time.monotonic() >= deadline:
                break
            pacer.wait()
            try:
                user = source.admin_get_user(UserPoolId=pool, Username=username)
            except ClientError as exc:
                if error_code(exc) != "UserNotFoundException":
                    raise
                continue  # deleted since it was listed
            checked += 1
            if TOTP in user.get("UserMFASettingList", []):
                totp += 1
        return totp, checked
