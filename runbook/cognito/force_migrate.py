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
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runbook.cognito.trigger.handler import accepted_attributes, copy_attributes
from runbook.durable import atomic_write, fsync_dir

if TYPE_CHECKING:
    from runbook.actions import ActionContext, ActionOutcome
    from runbook.model import ForceMigrateAction

PAGE_SIZE = 60  # ListUsers' maximum
MAP_FILE = "cognito-sub-map.csv"
JOURNAL_FILE = "cognito-force-migrate.journal"
CHECKPOINT_FILE = "cognito-force-migrate.json"
TOTP_FILE = "cognito-totp-users.txt"
PHONE_FILE = "cognito-phone-unfixable.txt"
NO_CONTACT_FILE = "cognito-no-verified-contact.txt"
DRY_RUN_SUFFIX = ".dry-run"
MAP_HEADER = ("username", "old_sub", "new_sub", "outcome", "groups", "flags")
THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
PASSWORD_SYMBOLS = "^$*.[]{}()?!@#%&_~=+-"
# A user created in the target this long before our `begin` line was not ours.
CLOCK_SKEW_S = 60.0
SAMPLES = 50
# This many failures in a row mean a cause common to all (a pool setting, a permission):
# stop instead of writing a failure record for every user.
MAX_FAILURES_IN_A_ROW = 25

Progress = Callable[[float | None, str], None]
Audit = Callable[..., Any]


class ForceMigrationError(RuntimeError):
    """Force-migration cannot start or go on; the message says why."""


class _Cancelled(Exception):
    pass


class _TokenExpired(Exception):
    pass


@dataclass
class _UserFailed(Exception):
    username: str
    operation: str
    code: str
    message: str
    partial: bool = False  # created in the target but not finished


@dataclass
class Counts:
    seen: int = 0
    created: int = 0  # dry run: would be created
    existing: int = 0  # already in the target: skipped
    external: int = 0  # federated users: their IdP recreates them at sign-in
    failed: int = 0
    group_memberships: int = 0
    reset_required: int = 0
    no_verified_contact: int = 0
    disabled: int = 0
    totp: int = 0
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
        flags = set(row["flags"].split(";"))
        self.reset_required += "reset_required" in flags
        self.no_verified_contact += "no_verified_contact" in flags
        self.disabled += "disabled" in flags
        self.totp += "totp" in flags
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

    def summary(self) -> str:
        c = self.counts
        if self.dry_run:
            head = (
                f"dry run, nothing changed: would create {c.created} users "
                f"({c.group_memberships} group memberships); {c.existing} already in the target"
            )
        else:
            head = f"created {c.created} users; {c.existing} already in the target (skipped)"
        parts = [head]
        if c.failed:
            parts.append(f"{c.failed} failed")
        if c.external:
            parts.append(f"{c.external} federated users left to their IdP")
        if c.totp:
            parts.append(f"{c.totp} TOTP users must re-register their authenticator")
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


# --- attribute mapping -----------------------------------------------------------

_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")


def to_e164(raw: str, default_country_code: str | None = None) -> str | None:
    """`raw` as +<country><number> (E.164), or None when that cannot be done safely.

    Spaces, dots, dashes, slashes and brackets go; `00` becomes `+`. A number
    without a country code only gets `default_country_code` if one is given, and
    never when it starts with a trunk `0` (whether to drop it depends on the country).
    """
    text = raw.strip()
    if not text or not _PHONE_CHARS.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif default_country_code and not digits.startswith("0"):
        digits = default_country_code.lstrip("+") + digits
    else:
        return None
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return "+" + digits


@dataclass
class MappedUser:
    attributes: dict[str, str]
    flags: set[str]


def map_attributes(
    attributes: list[Mapping[str, Any]],
    accepted: frozenset[str],
    *,
    case_insensitive_emails: bool,
    default_country_code: str | None = None,
) -> MappedUser:
    """Source attributes as the target will take them: no `sub`, `custom:` kept,
    phone numbers E.164 (dropped with its verified flag if impossible), emails
    lower-cased for a case-insensitive pool; verified flags as they were."""
    kept, dropped = copy_attributes(attributes, accepted)
    flags: set[str] = {"attributes_dropped"} if dropped else set()
    phone = kept.get("phone_number")
    if phone is not None:
        normal = to_e164(phone, default_country_code)
        if normal is None:
            kept.pop("phone_number")
            kept.pop("phone_number_verified", None)
            flags.add("phone_unfixable")
        elif normal != phone:
            kept["phone_number"] = normal
            flags.add("phone_normalized")
    email = kept.get("email")
    if case_insensitive_emails and email is not None and email != email.lower():
        kept["email"] = email.lower()
        flags.add("email_lowercased")
    return MappedUser(kept, flags)


def _verified_contact(attributes: Mapping[str, str]) -> bool:
    return (attributes.get("email_verified") == "true" and bool(attributes.get("email"))) or (
        attributes.get("phone_number_verified") == "true" and bool(attributes.get("phone_number"))
    )


def _sub(attributes: list[Mapping[str, Any]] | None) -> str:
    for attribute in attributes or []:
        if attribute.get("Name") == "sub":
            return str(attribute.get("Value", ""))
    return ""


def random_password(min_length: int = 8) -> str:
    """A throwaway password meeting any Cognito policy; never stored, never logged."""
    length = min(max(32, min_length), 98)
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, PASSWORD_SYMBOLS)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in cls for c in password) for cls in classes):
            return password


# --- pacing and retries ----------------------------------------------------------


class RateLimiter:
    """At most `rate` requests a second across threads; halves on throttling, recovers slowly."""

    def __init__(self, rate: float, wait: Callable[[float], object]) -> None:
        self.target = rate
        self.rate = rate
        self._wait = wait
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
        if slot > now:
            self._wait(slot - now)

    def throttled(self) -> None:
        with self._lock:
            self.rate = max(self.target / 16, self.rate / 2)

    def succeeded(self) -> None:
        with self._lock:
            if self.rate < self.target:
                self.rate = min(self.target, self.rate + self.target / 50)


class _Api:
    """Paced calls to one pool, with backoff on throttling beyond botocore's own retries."""

    def __init__(
        self,
        client: Any,
        limiter: RateLimiter,
        *,
        cancel: threading.Event,
        backoff_base_s: float,
        max_backoff_s: float,
        max_throttle_retries: int,
        on_throttle: Callable[[], None],
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.cancel = cancel
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.max_throttle_retries = max_throttle_retries
        self.on_throttle = on_throttle

    def __call__(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        attempt = 0
        while True:
            self.limiter.acquire()
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            except ClientError as exc:
                if _code(exc) not in THROTTLE_CODES or attempt >= self.max_throttle_retries:
                    # An earlier attempt may have been applied (only its answer lost).
                    exc.runbook_retried = attempt > 0
                    raise
                attempt += 1
                self.limiter.throttled()
                self.on_throttle()
                delay = min(self.max_backoff_s, self.backoff_base_s * 2**attempt)
                if self.cancel.wait(delay * random.uniform(0.5, 1.0)):
                    raise _Cancelled() from None
                continue
            self.limiter.succeeded()
            return result


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


# --- files ---------------------------------------------------------------------


class _AppendFile:
    """An append-only file written with os.write (whole lines), optionally fsynced per line."""

    def __init__(self, path: Path, header: bytes = b"") -> None:
        self.path = path
        self._lock = threading.Lock()
        created = not path.exists()
        _drop_torn_tail(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created:
            fsync_dir(path.parent)
        if header and os.fstat(self._fd).st_size == 0:
            self.append(header, sync=True)

    def append(self, line: bytes, *, sync: bool) -> None:
        with self._lock:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            if sync:
                os.fsync(self._fd)

    def size(self) -> int:
        with self._lock:
            os.fsync(self._fd)
            return os.fstat(self._fd).st_size

    def close(self) -> None:
        with self._lock:
            os.fsync(self._fd)
            os.close(self._fd)


def _drop_torn_tail(path: Path) -> None:
    """A crash can leave half a line at the end; it was never acknowledged."""
    if not path.exists():
        return
    data = path.read_bytes()[-65536:]
    if data and not data.endswith(b"\n"):
        size = path.stat().st_size
        cut = size - (len(data) - (data.rfind(b"\n") + 1))
        with open(path, "r+b") as handle:
            handle.truncate(cut)
            os.fsync(handle.fileno())


def _csv_line(values: tuple[str, ...] | list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def _rows_from(path: Path, offset: int) -> Iterator[dict[str, str]]:
    """Sub-map rows from a byte offset (a line boundary), streamed."""
    if not path.exists():
        return
    with open(path, "rb") as raw:
        raw.seek(offset)  # a byte offset: seek before decoding
        handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        for values in csv.reader(handle):
            if values and values != list(MAP_HEADER) and len(values) == len(MAP_HEADER):
                yield dict(zip(MAP_HEADER, values, strict=True))


def _journal_from(path: Path, offset: int) -> tuple[dict[str, float], set[str]]:
    """(username -> time of its `begin`, usernames found to exist) since `offset`."""
    begun: dict[str, float] = {}
    existed: set[str] = set()
    if not path.exists():
        return begun, existed
    with open(path, "rb") as handle:
        handle.seek(offset)
        for line in handle:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if "begin" in entry:
                    begun[str(entry["begin"])] = float(entry.get("t", 0.0))
                elif "exists" in entry:
                    existed.add(str(entry["exists"]))
    return begun, existed


def _write_list(path: Path, lines: Iterator[str]) -> None:
    """Write a derived list atomically, streamed (it can be as long as the pool)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


# --- the migration ---------------------------------------------------------------


@dataclass(frozen=True)
class _Created:
    """A user in the target: this run's (`ours`; `fresh` if created by this very call)."""

    sub: str
    status: str
    ours: bool
    fresh: bool

    @classmethod
    def of(cls, user: Mapping[str, Any], *, ours: bool, fresh: bool) -> _Created:
        attributes = user.get("UserAttributes", user.get("Attributes"))
        return cls(_sub(attributes), str(user.get("UserStatus", "")), ours, fresh)


def _created_since(user: Mapping[str, Any], begun_at: float) -> bool:
    """Created after our `begin` line (give or take clock skew): ours, not someone else's."""
    created: datetime = user["UserCreateDate"]
    return created.timestamp() >= begun_at - CLOCK_SKEW_S


@dataclass
class _Row:
    username: str
    old_sub: str
    new_sub: str
    outcome: str
    groups: list[str]
    flags: set[str]

    def line(self) -> bytes:
        return _csv_line(
            (
                self.username,
                self.old_sub,
                self.new_sub,
                self.outcome,
                ";".join(self.groups),
                ";".join(sorted(self.flags)),
            )
        )


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
    ) -> None:

        def api(client: Any) -> _Api:
            return _Api(
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
        self.source_pool = source_pool
        self.target_pool = target_pool
        self.state_dir = state_dir
        self.dry_run = dry_run
        self.case_insensitive_emails = case_insensitive_emails
        self.default_country_code = default_country_code
        self.workers = workers
        self.progress = progress
        self.cancel = cancel
        self.audit = audit
        self.report = ForceMigrationReport(source_pool, target_pool, dry_run)
        self._lock = threading.Lock()
        self._last_failure: dict[str, Any] = {}
        suffix = DRY_RUN_SUFFIX if dry_run else ""
        self.map_path = state_dir / f"{MAP_FILE}{suffix}"
        self.journal_path = state_dir / JOURNAL_FILE
        self.checkpoint_path = state_dir / CHECKPOINT_FILE
        self.list_paths = {
            "totp_users": state_dir / f"{TOTP_FILE}{suffix}",
            "phone_unfixable": state_dir / f"{PHONE_FILE}{suffix}",
            "no_verified_contact": state_dir / f"{NO_CONTACT_FILE}{suffix}",
        }
        # Set by _prepare.
        self.accepted: frozenset[str] = frozenset()
        self.password_min = 8
        self.source_has_groups = False
        self.mfa_possible = True
        self.estimated_users = 0

    # --- set-up ---

    def _prepare(self) -> None:
        source_pool = self.source("describe_user_pool", UserPoolId=self.source_pool)["UserPool"]
        target_pool = self.target("describe_user_pool", UserPoolId=self.target_pool)["UserPool"]
        self.accepted = accepted_attributes(target_pool.get("SchemaAttributes", []))
        policy = target_pool.get("Policies", {}).get("PasswordPolicy", {})
        self.password_min = int(policy.get("MinimumLength", 8))
        # TOTP is only possible where the pool allows MFA; skip a read per user otherwise.
        self.mfa_possible = source_pool.get("MfaConfiguration", "OFF") != "OFF"
        self.estimated_users = int(source_pool.get("EstimatedNumberOfUsers", 0))
        source_groups = self._group_names(self.source, self.source_pool)
        target_groups = self._group_names(self.target, self.target_pool)
        self.source_has_groups = bool(source_groups)
        self.report.missing_groups = sorted(source_groups - target_groups)
        if self.report.missing_groups and not self.dry_run:
            raise ForceMigrationError(
                "the target pool lacks the source's groups "
                f"{', '.join(self.report.missing_groups)}: create them (with their roles and "
                "precedence) before force-migrating; nothing was changed"
            )

    @staticmethod
    def _group_names(api: _Api, pool: str) -> set[str]:
        names: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": pool, "Limit": 60}
        while True:
            page = api("list_groups", **kwargs)
            names.update(g["GroupName"] for g in page.get("Groups", []))
            if not page.get("NextToken"):
                return names
            kwargs["NextToken"] = page["NextToken"]

    def _fresh_checkpoint(self) -> dict[str, Any]:
        return {
            "version": 1,
            "source_user_pool_id": self.source_pool,
            "target_user_pool_id": self.target_pool,
            "started_at": datetime.now(UTC).isoformat(),
            "page": 0,
            "page_token": None,
            "map_offset": 0,
            "journal_offset": 0,
            "counts": {},
            "finished": False,
        }

    def _load_checkpoint(self) -> dict[str, Any]:
        """Where an unfinished pass over the same pools stopped, or a new pass."""
        if self.dry_run:
            self.map_path.unlink(missing_ok=True)
            return self._fresh_checkpoint()
        saved: dict[str, Any] | None = None
        if self.checkpoint_path.exists():
            saved = json.loads(self.checkpoint_path.read_bytes())
        same_pools = saved is not None and (
            saved.get("source_user_pool_id") == self.source_pool
            and saved.get("target_user_pool_id") == self.target_pool
        )
        if saved is not None and same_pools and not saved.get("finished"):
            self.report.resumed = True
            return saved
        return self._new_pass()

    def _new_pass(self) -> dict[str, Any]:
        """Start over from the first page, keeping what earlier passes wrote under a dated name."""
        stamp = _stamp()
        for path in (self.map_path, self.journal_path, self.checkpoint_path):
            if path.exists():
                os.replace(path, path.with_name(f"{path.name}.{stamp}"))
        return self._fresh_checkpoint()

    def _in_flight(self, checkpoint: Mapping[str, Any]) -> tuple[set[str], dict[str, float]]:
        """(users of the checkpoint's page already done, users begun there but not done)."""
        done = {row["username"] for row in _rows_from(self.map_path, checkpoint["map_offset"])}
        if self.dry_run:
            return done, {}
        begun, existed = _journal_from(self.journal_path, checkpoint["journal_offset"])
        return done, {u: t for u, t in begun.items() if u not in existed and u not in done}

    # --- the run ---

    def run(self) -> ForceMigrationReport:
        started = time.monotonic()
        self._prepare()
        checkpoint = self._load_checkpoint()
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
                _, half_made = self._in_flight(checkpoint)
                carried = carried | half_made
                self.audit(
                    "cognito.force_migrate.restarted",
                    reason="the saved ListUsers pagination token was refused",
                    page=checkpoint["page"],
                    half_made=sorted(half_made),
                )
                self.report.resumed = False
                checkpoint = self._new_pass()
            except Exception as exc:
                self.audit(
                    "cognito.force_migrate.stopped",
                    error=f"{type(exc).__name__}: {exc}",
                    counts=asdict(self.report.counts),
                    note="the checkpoint is at the start of the page in progress: run again",
                )
                raise
        if self.report.finished:
            self._write_lists()
        self.report.files = {
            "sub_map": str(self.map_path),
            **{name: str(path) for name, path in self.list_paths.items()},
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
        sub_map = _AppendFile(self.map_path, _csv_line(MAP_HEADER))
        journal = None if self.dry_run else _AppendFile(self.journal_path)
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
        sub_map: _AppendFile,
        journal: _AppendFile | None,
    ) -> None:
        counts = self.report.counts
        if checkpoint["map_offset"] == 0:
            checkpoint["map_offset"] = sub_map.size()  # past the header
        if not self.dry_run:
            # Before the first user, so a crash on the first page resumes (with its journal).
            self._save(checkpoint)
        # Rows written after the checkpoint: the users of its page already done.
        done, ours = self._in_flight(checkpoint)
        for row in _rows_from(self.map_path, checkpoint["map_offset"]):
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
                    if saved_token and _code(exc) == "InvalidParameterException":
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
                    except _UserFailed as failure:
                        self._failed(failure)
                        in_a_row += 1
                    except _Cancelled:
                        self.report.cancelled = True
                    self._tick()
                    if in_a_row >= MAX_FAILURES_IN_A_ROW:
                        for pending in futures:
                            pending.cancel()
                        last = self._last_failure
                        raise ForceMigrationError(
                            f"stopped after {in_a_row} users failed in a row, the last with "
                            f"{last.get('code')}: {last.get('message')}; fix the cause and run "
                            "again (it resumes where it stopped)"
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
                    self._save(checkpoint)
                done.clear()
                if token is None:
                    self.report.finished = True
                    return

    def _save(self, checkpoint: Mapping[str, Any]) -> None:
        atomic_write(self.checkpoint_path, json.dumps(checkpoint, indent=2).encode("utf-8"))

    def _throttled(self) -> None:
        with self._lock:
            self.report.counts.throttled += 1

    def _tick(self) -> None:
        seen = self.report.counts.seen + self.report.counts.failed
        fraction = min(0.99, seen / self.estimated_users) if self.estimated_users else None
        verb = "checked" if self.dry_run else "migrated"
        self.progress(fraction, f"{seen} users {verb}, {self.report.counts.existing} skipped")

    def _failed(self, failure: _UserFailed) -> None:
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
        sub_map: _AppendFile,
        journal: _AppendFile | None,
    ) -> None:
        if self.cancel.is_set():
            raise _Cancelled()
        username = str(user["Username"])
        row = self._migrate(user, begun_at, journal)
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

    def _migrate(
        self, user: Mapping[str, Any], begun_at: float | None, journal: _AppendFile | None
    ) -> _Row:
        username = str(user["Username"])
        old_sub = _sub(user.get("Attributes"))
        if user.get("UserStatus") == "EXTERNAL_PROVIDER":
            return _Row(username, old_sub, "", "external", [], set())
        operation = "read source"
        try:
            mapped = map_attributes(
                list(user.get("Attributes", [])),
                self.accepted,
                case_insensitive_emails=self.case_insensitive_emails,
                default_country_code=self.default_country_code,
            )
            groups = sorted(self._source_groups(username)) if self.source_has_groups else []
            if self.mfa_possible and self._uses_totp(username):
                mapped.flags.add("totp")
            if not user.get("Enabled", True):
                mapped.flags.add("disabled")
            if self.dry_run:
                operation = "admin_get_user"
                existing = self._target_user(username)
                if existing is not None:
                    return _Row(
                        username,
                        old_sub,
                        _sub(existing.get("UserAttributes")),
                        "existing",
                        [],
                        set(),
                    )
                if _verified_contact(mapped.attributes):
                    mapped.flags.add("reset_required")
                else:
                    mapped.flags.add("no_verified_contact")
                return _Row(username, old_sub, "", "would_create", groups, mapped.flags)
            assert journal is not None
            operation = "admin_create_user"
            created = self._create(username, mapped, begun_at, journal)
            if not created.ours:
                return _Row(username, old_sub, created.sub, "existing", [], set())
        except ClientError as exc:
            raise _UserFailed(username, operation, _code(exc), _message(exc)) from None
        new_sub = created.sub
        try:
            self._finish(username, groups, mapped, created.status)
        except ClientError as exc:
            rolled_back = created.fresh and self._delete(username)
            raise _UserFailed(
                username, exc.operation_name, _code(exc), _message(exc), partial=not rolled_back
            ) from None
        return _Row(username, old_sub, new_sub, "created", groups, mapped.flags)

    def _source_groups(self, username: str) -> set[str]:
        groups: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": self.source_pool, "Username": username, "Limit": 60}
        while True:
            page = self.source("admin_list_groups_for_user", **kwargs)
            groups.update(g["GroupName"] for g in page.get("Groups", []))
            if not page.get("NextToken"):
                return groups
            kwargs["NextToken"] = page["NextToken"]

    def _uses_totp(self, username: str) -> bool:
        try:
            user = self.source("admin_get_user", UserPoolId=self.source_pool, Username=username)
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                return False  # deleted since it was listed
            raise
        return "SOFTWARE_TOKEN_MFA" in user.get("UserMFASettingList", [])

    def _target_user(self, username: str) -> dict[str, Any] | None:
        try:
            return self.target("admin_get_user", UserPoolId=self.target_pool, Username=username)
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                return None
            raise

    def _create(
        self, username: str, mapped: MappedUser, begun_at: float | None, journal: _AppendFile
    ) -> _Created:
        """Create the user, or tell this run's user (finish it) from someone else's (skip it).

        `begun_at` is set when this user was begun before a crash.
        """
        if begun_at is not None:
            existing = self._target_user(username)
            if existing is not None:
                return _Created.of(existing, ours=_created_since(existing, begun_at), fresh=False)
        begun_at = time.time()
        journal.append(
            json.dumps({"begin": username, "t": begun_at}).encode("utf-8") + b"\n", sync=True
        )
        try:
            response = self.target(
                "admin_create_user",
                UserPoolId=self.target_pool,
                Username=username,
                UserAttributes=[{"Name": k, "Value": v} for k, v in mapped.attributes.items()],
                TemporaryPassword=random_password(self.password_min),
                MessageAction="SUPPRESS",
            )
        except ClientError as exc:
            if _code(exc) != "UsernameExistsException":
                raise
            existing = self._target_user(username)
            if existing is None:
                raise  # deleted meanwhile: let the next pass retry it
            # Only a retry (ours or botocore's, after a timeout or throttling whose
            # request may have got through) can meet our own user: just created and still
            # FORCE_CHANGE_PASSWORD, which lazy migration never leaves. Anyone else's
            # user (lazily migrated, made by hand, an earlier pass's) is never touched.
            retried = getattr(exc, "runbook_retried", False) or (
                exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0
            )
            ours = (
                retried
                and existing["UserStatus"] == "FORCE_CHANGE_PASSWORD"
                and _created_since(existing, begun_at)
            )
            if not ours:
                journal.append(json.dumps({"exists": username}).encode("utf-8") + b"\n", sync=True)
            return _Created.of(existing, ours=ours, fresh=ours)
        return _Created.of(response["User"], ours=True, fresh=True)

    def _finish(self, username: str, groups: list[str], mapped: MappedUser, status: str) -> None:
        """Groups, then the password state, then disabling: every step safe to repeat."""
        for group in groups:
            self.target(
                "admin_add_user_to_group",
                UserPoolId=self.target_pool,
                Username=username,
                GroupName=group,
            )
        if _verified_contact(mapped.attributes):
            if status == "FORCE_CHANGE_PASSWORD":
                self.target(
                    "admin_set_user_password",
                    UserPoolId=self.target_pool,
                    Username=username,
                    Password=random_password(self.password_min),
                    Permanent=True,
                )
            if status != "RESET_REQUIRED":
                self.target(
                    "admin_reset_user_password", UserPoolId=self.target_pool, Username=username
                )
            mapped.flags.add("reset_required")
        else:
            mapped.flags.add("no_verified_contact")  # stays FORCE_CHANGE_PASSWORD
        if "disabled" in mapped.flags:
            self.target("admin_disable_user", UserPoolId=self.target_pool, Username=username)

    def _delete(self, username: str) -> bool:
        """Undo a half-made user so the next pass creates it whole."""
        try:
            self.target("admin_delete_user", UserPoolId=self.target_pool, Username=username)
        except ClientError:
            return False
        return True

    def _write_lists(self) -> None:
        """The lists for people to act on, streamed from the whole pass's sub map."""
        self.report.totp_users.clear()
        for name, path in self.list_paths.items():
            flag = {"totp_users": "totp"}.get(name, name)
            _write_list(
                path,
                (
                    row["username"]
                    for row in _rows_from(self.map_path, 0)
                    if flag in row["flags"].split(";")
                ),
            )
        with open(self.list_paths["totp_users"], encoding="utf-8") as handle:
            for line, _ in zip(handle, range(SAMPLES), strict=False):
                self.report.totp_users.append(line.strip())


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
    ).run()


def force_migrate_action(ctx: ActionContext, action: ForceMigrateAction) -> ActionOutcome:
    """The `cognito.force_migrate` step action."""
    from runbook.actions import ActionError, ActionOutcome

    cognito = ctx.runtime.model.cognito
    if cognito is None:
        raise ActionError("no [cognito] table in the runbook: the user pools are not named")
    step = ctx.step.id

    def audit(event: str, **details: Any) -> None:
        ctx.runtime.audit.record(event, step=step, **details)

    try:
        report = force_migrate(
            ctx.runtime.sessions.client("source", "cognito-idp"),
            ctx.runtime.sessions.client("target", "cognito-idp"),
            source_pool=cognito.source_user_pool_id,
            target_pool=cognito.target_user_pool_id,
            state_dir=ctx.runtime.state_dir,
            rate_per_second=action.rate_per_second,
            dry_run=action.dry_run,
            case_insensitive_emails=cognito.case_insensitive_emails,
            progress=ctx.progress,
            cancel=ctx.cancel,
            audit=audit,
        )
    except ForceMigrationError as exc:
        raise ActionError(str(exc)) from None
    ok = report.finished and report.counts.failed == 0
    details = report.to_json()
    del details["summary"]  # the outcome record has its own
    return ActionOutcome(ok, report.summary(), details)
