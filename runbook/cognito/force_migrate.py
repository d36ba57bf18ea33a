"""Cognito force-migration: create the users who never signed in, password reset required.

Users stream from the source pool one ListUsers page (60) at a time, through
the read-only guard; each is created in the target with `AdminCreateUser`
(`MessageAction=SUPPRESS`, a random temporary password nobody sees), added to
the groups it had, then given a random permanent password and reset with
`AdminResetUserPassword`, which leaves it `RESET_REQUIRED`: at sign-in the app
gets `PasswordResetRequiredException` and runs the forgot-password flow. That
call is the only way to reach RESET_REQUIRED and Cognito sends the user a reset
code with it. A user with no verified email or phone cannot reset a password at
all; it stays `FORCE_CHANGE_PASSWORD` and is listed (send it an invitation
with `AdminCreateUser MessageAction=RESEND`). A disabled source user is
disabled in the target too. `sub` cannot be carried over: the old-to-new map
is `cognito-sub-map.csv`. TOTP secrets cannot be exported: those users are
listed for re-registration.

Idempotent and resumable. The checkpoint (`cognito-force-migrate.json`,
written atomically at each page boundary) holds the token of the page being
worked on and the sizes of the append-only sub map and journal at its start;
the rows since then are the users of that page already done. Before creating
a user, a `begin` line is fsynced to the journal, so after a crash a user that
exists in the target is known to be this run's (finish it) or someone else's
(skip it and count it). Memory stays flat: one page at a time.

Requests to each pool are paced at `rate_per_second` (Cognito's quotas are per
category: user creation about 50 a second, ListUsers about 30, and the source's
are shared with live sign-ins), halved on throttling and recovered slowly, with
a jittered backoff on `TooManyRequestsException`.

This module walks the pages; the parts live beside it: `attributes` (mapping,
shared with the Lambda), `pacing` (rate and backoff), `journal` (the files),
`users` (one user), `report` (counts and report) and `action` (the step action).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code
from runbook.cognito.attributes import accepted_attributes
from runbook.cognito.journal import StateFiles
from runbook.cognito.pacing import Api, Cancelled, RateLimiter
from runbook.cognito.report import SAMPLES, Counts, ForceMigrationReport
from runbook.cognito.users import UserFailed, UserMigrator
from runbook.durable import AppendOnlyFile
from runbook.formatting import error_line

PAGE_SIZE = 60  # ListUsers' maximum
# "Quotas in Amazon Cognito": a pool sending with Cognito's default email sender
# (EmailSendingAccount COGNITO_DEFAULT) may send 50 messages a day.
COGNITO_DEFAULT_EMAILS_PER_DAY = 50
# This many failures in a row mean a cause common to all (a pool setting, a permission):
# stop instead of writing a failure record for every user.
MAX_FAILURES_IN_A_ROW = 25

Progress = Callable[[float | None, str], None]
Audit = Callable[..., Any]


class ForceMigrationError(RuntimeError):
    """Force-migration cannot start or go on; the message says why."""


class _TokenExpired(Exception):
    pass


class _Migration:
    def __init__(
        self,
        source_client: Any,
        target_client: Any,
        *,
        source_pool: str,
        target_pool: str,
        state_dir: Path,
        rate_per_second: float,
        dry_run: bool,
        case_insensitive_emails: bool,
        default_country_code: str | None,
        workers: int,
        progress: Progress,
        cancel: threading.Event,
        audit: Audit,
        backoff_base_s: float,
        max_backoff_s: float,
        max_throttle_retries: int,
        ses_client: Any = None,
    ) -> None:

        def api(client: Any) -> Api:
            return Api(
                client,
                RateLimiter(rate_per_second, cancel.wait),
                cancel=cancel,
                backoff_base_s=backoff_base_s,
                max_backoff_s=max_backoff_s,
                max_throttle_retries=max_throttle_retries,
                on_throttle=self._throttled,
            )

        self.source = api(source_client)
        self.target = api(target_client)
        self.ses = ses_client
        self.source_pool = source_pool
        self.target_pool = target_pool
        self.dry_run = dry_run
        self.workers = workers
        self.progress = progress
        self.cancel = cancel
        self.audit = audit
        self.report = ForceMigrationReport(source_pool, target_pool, dry_run)
        self._lock = threading.Lock()
        self._last_failure: dict[str, Any] = {}
        self.files = StateFiles(
            state_dir, source_pool=source_pool, target_pool=target_pool, dry_run=dry_run
        )
        # The pool facts in it are set by _prepare.
        self.users = UserMigrator(
            self.source,
            self.target,
            source_pool,
            target_pool,
            dry_run=dry_run,
            case_insensitive_emails=case_insensitive_emails,
            default_country_code=default_country_code,
        )
        self.estimated_users = 0  # set by _prepare

    # --- set-up ---

    def _prepare(self) -> None:
        source_pool = self.source("describe_user_pool", UserPoolId=self.source_pool)["UserPool"]
        target_pool = self.target("describe_user_pool", UserPoolId=self.target_pool)["UserPool"]
        self.users.accepted = accepted_attributes(target_pool.get("SchemaAttributes", []))
        policy = target_pool.get("Policies", {}).get("PasswordPolicy", {})
        self.users.password_min = int(policy.get("MinimumLength", 8))
        # TOTP is only possible where the pool allows MFA; skip a read per user otherwise.
        self.users.mfa_possible = source_pool.get("MfaConfiguration", "OFF") != "OFF"
        self.users.username_attributes = tuple(target_pool.get("UsernameAttributes") or ())
        sms = bool(target_pool.get("SmsConfiguration", {}).get("SnsCallerArn"))
        self.users.sms_configured = sms
        self.users.sms_mfa_supported = sms and target_pool.get("MfaConfiguration") in (
            "ON",
            "OPTIONAL",
        )
        self.estimated_users = int(source_pool.get("EstimatedNumberOfUsers", 0))
        if not self.dry_run:
            self._check_sender(target_pool)
        source_groups = self._group_names(self.source, self.source_pool)
        target_groups = self._group_names(self.target, self.target_pool)
        self.users.source_has_groups = bool(source_groups)
        self.report.missing_groups = sorted(source_groups - target_groups)
        if self.report.missing_groups and not self.dry_run:
            raise ForceMigrationError(
                "the target pool lacks the source's groups "
                f"{', '.join(self.report.missing_groups)}: create them (with their roles and "
                "precedence) before force-migrating; nothing was changed"
            )

    def _check_sender(self, target_pool: Mapping[str, Any]) -> None:
        """Refuse a reset wave the pool's email sender cannot deliver, before any is sent.

        Each reset sends a code; those not delivered leave users locked out. The
        wave is estimated as the source's users minus the target's.
        """
        pending = max(0, self.estimated_users - int(target_pool.get("EstimatedNumberOfUsers", 0)))
        config = target_pool.get("EmailConfiguration") or {}
        account = config.get("EmailSendingAccount", "COGNITO_DEFAULT")
        if account == "COGNITO_DEFAULT":
            capacity: int | None = COGNITO_DEFAULT_EMAILS_PER_DAY
            sender = "Cognito's default email sender"
        else:
            capacity, sender = self._ses_capacity(), "its SES identity"
        self.audit(
            "cognito.force_migrate.sender",
            email_sending_account=account,
            can_send_today=capacity,
            users_to_reset=pending,
            sms_configured=self.users.sms_configured,
        )
        if capacity is not None and pending > capacity:
            raise ForceMigrationError(
                f"refused before any reset: about {pending} users need a reset code, and the "
                f"target pool sends email with {sender}, which can deliver {capacity} today. "
                "Configure SES as the pool's email sender (EmailSendingAccount DEVELOPER) with "
                "enough quota, then run the step again; nothing was changed"
            )

    def _ses_capacity(self) -> int | None:
        """What SES can still send in the next 24 hours, or None if it cannot be read."""
        if self.ses is None:
            return None
        try:
            quota = self.ses.get_send_quota()
        except ClientError:
            return None
        if float(quota.get("Max24HourSend", 0)) < 0:
            return None  # -1: unlimited
        return int(float(quota["Max24HourSend"]) - float(quota.get("SentLast24Hours", 0)))

    @staticmethod
    def _group_names(api: Api, pool: str) -> set[str]:
        names: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": pool, "Limit": 60}
        while True:
            page = api("list_groups", **kwargs)
            names.update(g["GroupName"] for g in page.get("Groups", []))
            if not page.get("NextToken"):
                return names
            kwargs["NextToken"] = page["NextToken"]

    # --- the run ---

    def run(self) -> ForceMigrationReport:
        started = time.monotonic()
        self._prepare()
        checkpoint, self.report.resumed = self.files.load_checkpoint()
        carried: dict[str, float] = {}  # users a refused position left half-made
        self.audit(
            "cognito.force_migrate.started",
            source_user_pool_id=self.source_pool,
            target_user_pool_id=self.target_pool,
            dry_run=self.dry_run,
            resumed=self.report.resumed,
            page=checkpoint["page"],
            estimated_users=self.estimated_users,
        )
        while True:
            counts = Counts.from_json(checkpoint.get("counts", {}))
            counts.throttled += self.report.counts.throttled  # so far, not only on pages
            self.report.counts = counts
            try:
                self._pages(checkpoint, carried)
                break
            except _TokenExpired:
                # The saved position is no longer accepted (a long pause after a crash):
                # a new pass from the first page, finishing the users left half-made.
                _, half_made = self.files.in_flight(checkpoint)
                carried = carried | half_made
                self.audit(
                    "cognito.force_migrate.restarted",
                    reason="the saved ListUsers pagination token was refused",
                    page=checkpoint["page"],
                    half_made=sorted(half_made),
                )
                self.report.resumed = False
                checkpoint = self.files.new_pass()
            except Exception as exc:
                self.audit(
                    "cognito.force_migrate.stopped",
                    error=error_line(exc),
                    counts=asdict(self.report.counts),
                    note="the checkpoint is at the start of the page in progress: run again",
                )
                raise
        if self.report.finished:
            self.report.totp_users[:] = self.files.write_lists(SAMPLES)
        self.report.files = {
            "sub_map": str(self.files.map_path),
            **{name: str(path) for name, path in self.files.list_paths.items()},
        }
        self.report.elapsed_s = round(time.monotonic() - started, 3)
        self.audit(
            "cognito.force_migrate.summary",
            summary=self.report.summary(),
            dry_run=self.dry_run,
            finished=self.report.finished,
            cancelled=self.report.cancelled,
            counts=asdict(self.report.counts),
            missing_groups=self.report.missing_groups,
            files=self.report.files,
        )
        self.progress(1.0 if self.report.finished else None, self.report.summary())
        return self.report

    def _pages(self, checkpoint: dict[str, Any], carried: dict[str, float]) -> None:
        sub_map = self.files.open_sub_map()
        journal = self.files.open_journal()
        try:
            self._walk(checkpoint, carried, sub_map, journal)
        finally:
            sub_map.close()
            if journal is not None:
                journal.close()

    def _walk(
        self,
        checkpoint: dict[str, Any],
        carried: dict[str, float],
        sub_map: AppendOnlyFile,
        journal: AppendOnlyFile | None,
    ) -> None:
        counts = self.report.counts
        if checkpoint["map_offset"] == 0:
            checkpoint["map_offset"] = sub_map.size()  # past the header
        if not self.dry_run:
            # Before the first user, so a crash on the first page resumes (with its journal).
            self.files.save(checkpoint)
        # Rows written after the checkpoint: the users of its page already done.
        done, ours = self.files.in_flight(checkpoint)
        for row in self.files.rows_since(checkpoint["map_offset"]):
            counts.add_row(row)
        ours = carried | ours  # few: at most the users in flight at a crash
        token: str | None = checkpoint["page_token"]
        saved_token = token is not None
        in_a_row = 0
        with ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="force-migrate"
        ) as pool:
            while True:
                if self.cancel.is_set():
                    self.report.cancelled = True
                    return
                kwargs: dict[str, Any] = {"UserPoolId": self.source_pool, "Limit": PAGE_SIZE}
                if token:
                    kwargs["PaginationToken"] = token
                try:
                    page = self.source("list_users", **kwargs)
                except ClientError as exc:
                    if saved_token and error_code(exc) == "InvalidParameterException":
                        raise _TokenExpired() from exc
                    raise
                saved_token = False
                users = [u for u in page.get("Users", []) if u["Username"] not in done]
                futures = [
                    pool.submit(self._one, user, ours.get(user["Username"]), sub_map, journal)
                    for user in users
                ]
                for future in as_completed(futures):
                    try:
                        future.result()
                        in_a_row = 0
                    except UserFailed as failure:
                        self._failed(failure)
                        in_a_row += 1
                    except Cancelled:
                        self.report.cancelled = True
                    self._tick()
                    if in_a_row >= MAX_FAILURES_IN_A_ROW:
                        for pending in futures:
                            pending.cancel()
                        last = self._last_failure
                        names = ", ".join(f["username"] for f in self.report.failures[:5])
                        raise ForceMigrationError(
                            f"stopped after {in_a_row} users failed in a row (none of them "
                            f"migrated; first: {names}), the last with {last.get('code')} in "
                            f"{last.get('operation')}: {last.get('message')}. Fix the cause "
                            f"and run the step again: it resumes at page {checkpoint['page']}, "
                            "and every failure is in the audit log"
                        )
                if self.report.cancelled or self.cancel.is_set():
                    self.report.cancelled = True
                    return  # the checkpoint still points at this page: resume redoes it
                token = page.get("PaginationToken") or None
                checkpoint.update(
                    page=checkpoint["page"] + 1,
                    page_token=token,
                    map_offset=sub_map.size(),
                    journal_offset=journal.size() if journal is not None else 0,
                    counts=asdict(counts),
                    finished=token is None,
                )
                if token is None:
                    checkpoint["finished_at"] = datetime.now(UTC).isoformat()
                if not self.dry_run:
                    self.files.save(checkpoint)
                done.clear()
                if token is None:
                    self.report.finished = True
                    return

    def _throttled(self) -> None:
        with self._lock:
            self.report.counts.throttled += 1

    def _tick(self) -> None:
        seen = self.report.counts.seen + self.report.counts.failed
        fraction = min(0.99, seen / self.estimated_users) if self.estimated_users else None
        self.progress(fraction, self.report.progress_line(self.estimated_users))

    def _failed(self, failure: UserFailed) -> None:
        with self._lock:
            self.report.counts.failed += 1
            record = {
                "username": failure.username,
                "operation": failure.operation,
                "code": failure.code,
                "message": failure.message,
                "partial": failure.partial,
            }
            if len(self.report.failures) < SAMPLES:
                self.report.failures.append(record)
            self._last_failure = record
        self.audit("cognito.force_migrate.user_failed", **record)

    # --- one user ---

    def _one(
        self,
        user: Mapping[str, Any],
        begun_at: float | None,
        sub_map: AppendOnlyFile,
        journal: AppendOnlyFile | None,
    ) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        username = str(user["Username"])
        row = self.users.migrate(user, begun_at, journal)
        sub_map.append(row.line(), sync=False)  # fsynced at the page checkpoint
        with self._lock:
            self.report.counts.add_row(
                {
                    "outcome": row.outcome,
                    "groups": ";".join(row.groups),
                    "flags": ";".join(row.flags),
                }
            )
            if "totp" in row.flags and len(self.report.totp_users) < SAMPLES:
                self.report.totp_users.append(username)


def force_migrate(
    source_client: Any,
    target_client: Any,
    *,
    source_pool: str,
    target_pool: str,
    state_dir: Path,
    rate_per_second: float,
    dry_run: bool = False,
    case_insensitive_emails: bool = True,
    default_country_code: str | None = None,
    workers: int = 4,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    audit: Audit | None = None,
    backoff_base_s: float = 0.5,
    max_backoff_s: float = 20.0,
    max_throttle_retries: int = 12,
    ses_client: Any = None,
) -> ForceMigrationReport:
    """Create every source user missing from the target; see the module docstring.

    `source_client` must be the guarded source cognito-idp client and
    `target_client` the target's. `rate_per_second` paces the requests to each
    pool. Resume state and reports go to `state_dir`. A dry run reads both
    pools and writes only `*.dry-run` reports.
    """
    cancel = cancel if cancel is not None else threading.Event()
    state_dir.mkdir(parents=True, exist_ok=True)
    return _Migration(
        source_client,
        target_client,
        source_pool=source_pool,
        target_pool=target_pool,
        state_dir=state_dir,
        rate_per_second=rate_per_second,
        dry_run=dry_run,
        case_insensitive_emails=case_insensitive_emails,
        default_country_code=default_country_code,
        workers=max(1, workers),
        progress=progress or (lambda _fraction, _text: None),
        cancel=cancel,
        audit=audit or (lambda _event, **_details: None),
        backoff_base_s=backoff_base_s,
        max_backoff_s=max_backoff_s,
        max_throttle_retries=max_throttle_retries,
        ses_client=ses_client,
    ).run()
