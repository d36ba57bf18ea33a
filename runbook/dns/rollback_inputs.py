"""What `runbook rollback` reads from the runbook: a few fields, without the whole model.

A rollback needs where the run's files are, the environment's name for the
audit, how to reach the account that holds the zone, its deadline, and which
steps a confirmed rollback sets back to pending. Those fields are read from the
TOML here and checked by the same rules as the model (`runbook.model`: a test
holds the two to agreement), so the rollback neither builds the runbook's
pydantic models nor imports a check: at the worst moment, start-up time is
time DNS stays wrong. If one of them is unusable, the rollback proceeds from
the snapshot alone, as with a runbook that does not parse at all; a problem
elsewhere in the file is for `runbook validate`, not a reason to roll back
differently.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The model's rules for these fields (runbook/model.py: Account, Migration, Settings, Step).
ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$")
ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
ENVIRONMENTS = ("production", "staging", "rehearsal")
DEFAULT_DEADLINE_S = 120.0
MAX_DEADLINE_S = 1800.0
ACCOUNT_KEYS = ("account_id", "region", "profile", "role_arn", "external_id", "session_name")
STATE_DIR_LINE = re.compile(r'^\s*state_dir\s*=\s*"([^"\n]+)"', re.MULTILINE)


class UnusableField(ValueError):
    """A field the rollback reads breaks the model's rules."""


@dataclass(frozen=True)
class AccountRef:
    """One account and how to reach it: the fields of `runbook.model.Account`, as read."""

    account_id: str
    region: str
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "runbook"

    @classmethod
    def recorded(cls, fields: dict[str, Any]) -> AccountRef:
        """As a snapshot recorded it (the model's dump at the flip), known fields only."""
        return cls(**{k: fields[k] for k in ACCOUNT_KEYS if k in fields})

    @classmethod
    def parse(cls, table: Any, where: str = "account") -> AccountRef:
        """The model's checks for one account table; UnusableField naming the first problem."""
        if not isinstance(table, dict):
            raise UnusableField(f"{where}: not a table")
        unknown = sorted(set(table) - set(ACCOUNT_KEYS))
        if unknown:
            raise UnusableField(f"{where}.{unknown[0]}: unknown key")
        for key in ("account_id", "region"):
            if key not in table:
                raise UnusableField(f"{where}.{key}: required key is missing")
        for key, value in table.items():
            optional = key in ("profile", "role_arn", "external_id")
            if not (isinstance(value, str) or (optional and value is None)):
                raise UnusableField(f"{where}.{key}: not a string")
        account = cls(**table)
        if not ACCOUNT_ID.match(account.account_id):
            raise UnusableField(f"{where}.account_id: not a 12-digit account ID")
        if not REGION.match(account.region):
            raise UnusableField(f"{where}.region: not a region")
        if not SESSION_NAME.match(account.session_name):
            raise UnusableField(f"{where}.session_name: not a role session name")
        if account.external_id is not None and not 2 <= len(account.external_id) <= 1224:
            raise UnusableField(f"{where}.external_id: 2 to 1224 characters")
        if account.role_arn is not None:
            match = ROLE_ARN.match(account.role_arn)
            if match is None:
                raise UnusableField(f"{where}.role_arn: malformed role ARN")
            if match.group(1) != account.account_id:
                raise UnusableField(f"{where}.role_arn: belongs to account {match.group(1)}")
        elif account.external_id is not None:
            raise UnusableField(f"{where}.external_id: only used with role_arn")
        return account


@dataclass(frozen=True)
class StepRef:
    """What a rollback needs of a step: its id, its action's kind, `after_rollback`."""

    id: str
    kind: str
    after_rollback: bool = False


@dataclass(frozen=True)
class RollbackInputs:
    state_dir: Path
    environment: str
    accounts: dict[str, AccountRef]
    deadline_s: float
    steps: tuple[StepRef, ...]

    @property
    def reset_steps(self) -> tuple[str, ...]:
        return steps_to_reset(self.steps)


def steps_to_reset(steps: tuple[StepRef, ...]) -> tuple[str, ...]:
    """The one rule of what a confirmed rollback sets back to pending (the engine's
    `reset_on_rollback` applies it to the model): from the first after-rollback step,
    or else the flip, to the end."""
    starts = [i for i, s in enumerate(steps) if s.after_rollback or s.kind == "dns.flip"]
    return tuple(s.id for s in steps[min(starts) :]) if starts else ()


def read_inputs(path: Path) -> RollbackInputs:
    """The rollback's fields; RunbookUnusable with one line per problem if any is unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunbookUnusable([f"{path}: cannot read: {exc}"]) from None
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise RunbookUnusable([f"{path}: invalid TOML: {exc}"]) from None
    try:
        return _inputs(path, raw)
    except UnusableField as exc:
        raise RunbookUnusable([f"{path}: {exc}"]) from None


class RunbookUnusable(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _table(raw: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise UnusableField(f"[{key}]: {'missing' if value is None else 'not a table'}")
    return value


def _inputs(path: Path, raw: dict[str, Any]) -> RollbackInputs:
    migration = _table(raw, "migration")
    environment = migration.get("environment")
    if environment not in ENVIRONMENTS:
        raise UnusableField(f"migration.environment: not one of {', '.join(ENVIRONMENTS)}")
    state = migration.get("state_dir", ".runbook")
    if not isinstance(state, str):
        raise UnusableField("migration.state_dir: not a string")
    accounts_table = _table(raw, "accounts")
    accounts = {
        name: AccountRef.parse(table, f"accounts.{name}")
        for name, table in accounts_table.items()
        if table is not None
    }
    for required in ("source", "target"):
        if required not in accounts:
            raise UnusableField(f"accounts.{required}: required table is missing")
    source = accounts["source"].account_id
    if any(name != "source" and a.account_id == source for name, a in accounts.items()):
        raise UnusableField("accounts: another account is the source account")
    settings = _table(raw, "settings", required=False)
    deadline = _seconds(settings.get("rollback_deadline_s", DEFAULT_DEADLINE_S))
    if deadline is None or not 0 < deadline <= MAX_DEADLINE_S:
        raise UnusableField("settings.rollback_deadline_s: a number of seconds, at most 1800")
    return RollbackInputs(
        state_dir=_under(path, state),
        environment=str(environment),
        accounts=accounts,
        deadline_s=deadline,
        steps=_steps(raw.get("steps")),
    )


def _seconds(value: Any) -> float | None:
    """A number as pydantic's float takes it (lax: a bool or a numeric string too)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _steps(raw: Any) -> tuple[StepRef, ...]:
    if not isinstance(raw, list) or not raw:
        raise UnusableField("steps: at least one [[steps]] table")
    steps = []
    for index, step in enumerate(raw):
        action = step.get("action") if isinstance(step, dict) else None
        kind = action.get("kind") if isinstance(action, dict) else None
        step_id = step.get("id") if isinstance(step, dict) else None
        after = step.get("after_rollback", False) if isinstance(step, dict) else None
        if not (isinstance(step_id, str) and isinstance(kind, str) and isinstance(after, bool)):
            raise UnusableField(f"steps.{index}: needs an id, an action kind, a boolean or none")
        steps.append(StepRef(step_id, kind, after))
    return tuple(steps)


def _under(path: Path, state: str) -> Path:
    directory = Path(state)
    return directory if directory.is_absolute() else path.parent / directory


def state_dir_from_text(path: Path) -> Path:
    """`[migration] state_dir` as far as the file still says it, else `.runbook` beside it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    try:
        configured = tomllib.loads(text).get("migration", {}).get("state_dir")
    except (ValueError, AttributeError, RecursionError):
        # Not TOML any more: the line itself may still be intact.
        found = STATE_DIR_LINE.search(text)
        configured = found.group(1) if found else None
    state = configured if isinstance(configured, str) and configured else ".runbook"
    return _under(path, state)
