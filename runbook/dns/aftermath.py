"""What a rollback does not undo, said when it is asked for and when it is done.

DNS goes back to the source; three things do not:

- the source database is still read-only: its owner re-enables writes (the runbook's
  after-rollback step, which the run shows first once DNS is back);
- writes made in the target since the flip stay there: DMS replicates source to
  target only;
- users created or changed in the target pool since the flip (sign-ups, new passwords
  and profiles, users the migration moved) are not in the source as they are now.

The user count reads the target pool's `ListUsers` (`UserCreateDate`,
`UserLastModifiedDate`): there is no filter on dates, so every page is read, within a
short deadline; cut short, the count says "at least". Never on the way to the UPSERT:
the app counts in a worker while its question is open, `runbook rollback` once the
outcome is recorded and printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.audit.record import EventName
from runbook.audit.verify import records_backward
from runbook.aws.session import SessionFactory
from runbook.formatting import duration, error_line, parse_time
from runbook.model import Runbook
from runbook.state import RunState, StepStatus

if TYPE_CHECKING:
    from botocore.config import Config

COUNT_DEADLINE_S = 5.0
PAGE_SIZE = 60  # ListUsers' maximum
FLIP_SEARCH_LIMIT = 50_000  # audit records read back looking for the flip, at most


def count_client_config() -> Config:
    """Short timeouts, one retry: a slow pool costs the count, never the operator's time.
    botocore's config loads here, not with this module (the app paints first)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=3
    )


_FLIP_RECORDS = (EventName.ACTION_OUTCOME, EventName.ACTION_RECONCILED)

# --- the text -------------------------------------------------------------------------

HEAD = "A rollback does not undo:"
READ_ONLY = (
    "- the source database is still read-only: its owner re-enables writes "
    "({step}), shown first once DNS is back"
)
READ_ONLY_NO_STEP = "- the source database is still read-only: its owner must re-enable writes"
WRITES = (
    "- writes made in the target since the flip ({ago} ago, at {at}Z) are not "
    "replicated back to the source"
)
WRITES_NO_FLIP = "- writes made in the target since the flip are not replicated back to the source"
USERS = (
    "- {count} created or changed in the target pool since the flip: those sign-ups, "
    "passwords and profiles are not in the source"
)
USERS_COUNTING = (
    "- users created or changed in the target pool since the flip are not in the source (counting…)"
)
USERS_UNKNOWN = (
    "- users created or changed in the target pool since the flip are not in the source "
    "(not counted: {why})"
)
FINISHED = (
    "The run is finished: '{title}' was done at {at}Z. The source is no longer the "
    "rollback target: it may be decommissioned, and the snapshot's records may point at "
    "nothing."
)
# For a question asked before anything is read: the counts come after the rollback.
QUESTION_NOTE = (
    "A rollback does not undo: the source database stays read-only until its owner "
    "re-enables writes; writes made in the target since the flip are not replicated back; "
    "users created or changed in the target pool since the flip are not in the source "
    "(counted after the rollback)."
)
ALREADY = (
    "DNS is already on the source: rolled back at {at}Z ({how}). Rolling back again "
    "sends the same snapshot."
)


@dataclass(frozen=True)
class UserCount:
    count: int | None
    complete: bool
    error: str | None = None

    def line(self) -> str:
        if self.count is None:
            return USERS_UNKNOWN.format(why=self.error or "no target pool in the runbook")
        users = f"{self.count} user{'' if self.count == 1 else 's'}"
        if not self.complete:
            users = f"at least {users} (counting stopped: {self.error or 'cut short'})"
        return USERS.format(count=users)


@dataclass(frozen=True)
class Aftermath:
    """What to say around a rollback; `users` is None until counted."""

    flipped_at: datetime | None
    reenable_step: str | None = None
    users: UserCount | None = None
    finished: tuple[str, datetime | None] | None = None
    rolled_back_at: datetime | None = None
    """Set when DNS is already back on the source (rolled back, not flipped since)."""
    rollback_confirmed: bool | None = None

    def caveats(self, now: datetime | None = None) -> list[str]:
        """The three things a rollback does not undo, one line each, after `HEAD`."""
        now = now or datetime.now(UTC)
        lines = [HEAD]
        step = self.reenable_step
        lines.append(READ_ONLY.format(step=step) if step else READ_ONLY_NO_STEP)
        if self.flipped_at is None:
            lines.append(WRITES_NO_FLIP)
        else:
            ago = duration((now - self.flipped_at).total_seconds())
            lines.append(WRITES.format(ago=ago, at=f"{self.flipped_at:%Y-%m-%d %H:%M:%S}"))
        lines.append(self.users.line() if self.users is not None else USERS_COUNTING)
        return lines

    def warnings(self, *, asking: bool = True) -> list[str]:
        """What changes the question: the run finished, or (`asking`) DNS is already back."""
        out = []
        if self.finished is not None:
            title, at = self.finished
            out.append(FINISHED.format(title=title, at=f"{at:%Y-%m-%d %H:%M:%S}" if at else "?"))
        if asking and self.rolled_back_at is not None:
            how = "confirmed" if self.rollback_confirmed else "NOT confirmed"
            out.append(ALREADY.format(at=f"{self.rolled_back_at:%Y-%m-%d %H:%M:%S}", how=how))
        return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def flip_steps(model: Runbook) -> set[str]:
    return {s.id for s in model.steps if s.action.kind == "dns.flip"}


def flip_time(state: RunState, audit_path: Path | None, steps: Iterable[str]) -> datetime | None:
    """When DNS was flipped: the run state, or (once a rollback cleared it) the audit log."""
    if state.dns.flipped_at is not None:
        return _aware(state.dns.flipped_at)
    if audit_path is None or not audit_path.exists():
        return None
    wanted = set(steps)
    for read, record in enumerate(records_backward(audit_path)):
        if read >= FLIP_SEARCH_LIMIT:
            return None
        details = record.get("details")
        if (
            record.get("event") in _FLIP_RECORDS
            and record.get("step") in wanted
            and isinstance(details, dict)
            and details.get("ok") is True
        ):
            return parse_time(str(record.get("time", "")))
    return None


def assess(model: Runbook, state: RunState, audit_path: Path | None) -> Aftermath:
    """Everything but the user count: from the runbook, the run state and the audit log."""
    reenable = next((s for s in model.steps if s.after_rollback), None)
    last = model.steps[-1]
    saved = state.steps.get(last.id)
    finished = None
    if saved is not None and saved.status == StepStatus.DONE and not last.after_rollback:
        finished = (last.title, _aware(saved.finished_at) if saved.finished_at else None)
    rolled = state.dns.rolled_back_at if state.dns.flipped_at is None else None
    return Aftermath(
        flipped_at=flip_time(state, audit_path, flip_steps(model)),
        reenable_step=f"step {reenable.id}" if reenable else None,
        finished=finished,
        rolled_back_at=_aware(rolled) if rolled is not None else None,
        rollback_confirmed=state.dns.rollback_confirmed,
    )


def count_changed_users(
    sessions: SessionFactory,
    model: Runbook,
    since: datetime | None,
    *,
    deadline_s: float = COUNT_DEADLINE_S,
    clock: Callable[[], float] = time.monotonic,
) -> UserCount:
    """Users of the target pool created or changed at or after `since`, read page by page."""
    if model.cognito is None:
        return UserCount(None, False, "no [cognito] table in the runbook")
    if since is None:
        return UserCount(None, False, "the flip's time is not recorded")
    since = _aware(since)
    end = clock() + deadline_s
    count, token = 0, None
    try:
        client = sessions.client("target", "cognito-idp", config=count_client_config())
        while True:
            page: dict[str, str] = {"PaginationToken": token} if token else {}
            response = client.list_users(
                UserPoolId=model.cognito.target_user_pool_id,
                Limit=PAGE_SIZE,
                AttributesToGet=["sub"],  # the dates come anyway; the rest is not needed
                **page,
            )
            count += sum(1 for user in response.get("Users", []) if _since(user, since))
            token = response.get("PaginationToken")
            if not token:
                return UserCount(count, True)
            if clock() >= end:
                return UserCount(count, False, f"{deadline_s:.0f}s deadline")
    except Exception as exc:  # a count is a courtesy: it never stops the rollback's report
        if count:
            return UserCount(count, False, error_line(exc, with_type=False))
        return UserCount(None, False, error_line(exc, with_type=False))


def _since(user: dict[str, object], since: datetime) -> bool:
    for key in ("UserCreateDate", "UserLastModifiedDate"):
        value = user.get(key)
        if isinstance(value, datetime) and _aware(value) >= since:
            return True
    return False
