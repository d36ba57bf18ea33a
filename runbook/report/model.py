"""The report's view model: what was read from an audit log, digested for a reviewer.

`runbook.report.build` makes these from a log; `runbook.report.render` reads only
these. Every value here is already redacted (see `build`), but still hostile
text: escaping is the templates' job, for the format each value lands in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runbook.audit.record import EventName, gist
from runbook.formatting import parse_time


class ReportInputError(Exception):
    """The input is not a readable audit log (or the output cannot be written): exit 2."""


def operator_label(user: Any, arn: Any) -> str:
    """`alice@bastion as arn:...`, or the local user alone when no AWS identity is known."""
    user_text = str(user) if user else "(unknown local user)"
    return f"{user_text} as {arn}" if arn else user_text


def unique(values: Iterable[Any]) -> list[str]:
    """The distinct non-empty values as text, in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        if value not in (None, ""):
            seen.setdefault(str(value), None)
    return list(seen)


@dataclass(frozen=True)
class Event:
    """One readable record, redacted, with whether the hash chain vouches for it."""

    line: int
    seq: int | None
    time: str
    run_id: str
    environment: str
    operator: dict[str, Any]
    step: str | None
    event: str
    details: dict[str, Any]
    verified: bool

    @property
    def when(self) -> datetime | None:
        return parse_time(self.time)

    @property
    def who(self) -> str:
        return operator_label(self.operator.get("local_user"), self.operator.get("aws_arn"))

    @property
    def what(self) -> str:
        """The one line that says what this record is about (the audit record's gist)."""
        return gist(self.event, self.details)


def span(start: Event | None, end: Event | None) -> float | None:
    """Seconds from one event to another; None when either is missing or has no time."""
    a, b = (start.when if start else None), (end.when if end else None)
    return None if a is None or b is None else (b - a).total_seconds()


def all_verified(*events: Event | None) -> bool:
    """Whether the chain vouches for every one of these events that exists."""
    return all(e.verified for e in events if e is not None)


@dataclass(frozen=True)
class Chain:
    """What `runbook.audit.verify` found, in the words the report shows."""

    state: str  # "intact" | "broken" | "torn tail"
    headline: str  # VerifyReport.describe(): "broken at seq 5 (line 5): ..."
    trustworthy: bool
    records_verified: int
    head_hash: str | None
    bad_seq: int | None = None
    bad_line: int | None = None
    reason: str | None = None


@dataclass
class Session:
    """One start or resumption of the tool within a run."""

    start: Event
    arns: list[str] = field(default_factory=list)
    last: Event | None = None

    @property
    def resumed(self) -> bool:
        return self.start.event == EventName.RUN_RESUMED

    @property
    def local_user(self) -> str:
        return operator_label(self.start.operator.get("local_user"), None)


@dataclass
class Run:
    run_id: str
    first: Event
    last: Event
    count: int = 0
    environments: list[str] = field(default_factory=list)
    migrations: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    runbooks: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    operators: list[tuple[str | None, str | None]] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)

    @property
    def who(self) -> list[str]:
        # A session's first records precede the STS check, so (user, None) is
        # noise once the same user shows up with an ARN.
        with_arn = {user for user, arn in self.operators if arn}
        return [operator_label(u, a) for u, a in self.operators if a or u not in with_arn]

    @property
    def verified(self) -> bool:
        return all_verified(self.first, self.last)


@dataclass(frozen=True)
class Identity:
    event: Event
    ok: bool
    accounts: list[dict[str, Any]]


@dataclass
class CheckRow:
    event: Event
    check: str
    title: str
    blocking: bool | None
    status: str
    summary: str
    details: list[str]
    evidence: Any
    duration_s: float | None

    @property
    def kind(self) -> str:
        return {True: "blocking", False: "advisory", None: "-"}[self.blocking]

    @property
    def has_evidence(self) -> bool:
        return self.evidence not in (None, {}, [])


@dataclass
class Gate:
    run_id: str
    step: str
    started: Event | None = None
    finished: Event | None = None
    passed: bool | None = None  # None: no gate.finished (a crash, or still running)
    requested: list[str] = field(default_factory=list)
    checks: list[CheckRow] = field(default_factory=list)
    # Statuses gate.finished counted that this gate run did not re-run itself.
    carried: dict[str, str] = field(default_factory=dict)

    @property
    def at(self) -> Event:
        first = self.started or self.finished or (self.checks[0].event if self.checks else None)
        assert first is not None  # a Gate is only made from one of its events
        return first

    @property
    def duration_s(self) -> float | None:
        return span(self.started, self.finished)

    @property
    def verified(self) -> bool:
        return all_verified(self.started, self.finished, *(c.event for c in self.checks))


@dataclass(frozen=True)
class WaivedCheck:
    check: str
    status: str
    summary: str
    reason: str = ""  # this check's own reason; older logs have only the waiver's


@dataclass(frozen=True)
class Waiver:
    event: Event
    reason: str
    waived: list[WaivedCheck]


@dataclass
class Action:
    """One attempt at a step's action: intent, then outcome or reconciliation (or nothing)."""

    run_id: str
    step: str
    intent: Event | None = None
    end: Event | None = None

    @property
    def kind(self) -> str:
        return str((self.intent.details if self.intent else {}).get("kind") or "?")

    @property
    def ok(self) -> bool | None:
        if self.end is None:
            return None
        return self.end.details.get("ok") is True

    @property
    def summary(self) -> str:
        if self.end is None:
            return "no outcome recorded: interrupted, not yet reconciled"
        return str(self.end.details.get("summary") or "")

    @property
    def reconciled(self) -> bool:
        return self.end is not None and self.end.event == EventName.ACTION_RECONCILED

    @property
    def duration_s(self) -> float | None:
        return span(self.intent, self.end)

    @property
    def at(self) -> Event:
        first = self.intent or self.end
        assert first is not None
        return first

    @property
    def verified(self) -> bool:
        return all_verified(self.at, self.end)

    @property
    def extra(self) -> dict[str, Any]:
        """Whatever else intent and outcome recorded (what was sent, what was read back)."""
        out: dict[str, Any] = {}
        if self.intent is not None:
            out.update({k: v for k, v in self.intent.details.items() if k != "kind"})
        if self.end is not None:
            out.update({k: v for k, v in self.end.details.items() if k not in ("ok", "summary")})
        return out


@dataclass
class Rollback:
    run_id: str
    intent: Event | None = None
    end: Event | None = None
    declined: Event | None = None  # rollback.not_confirmed: the operator said no

    @property
    def at(self) -> Event:
        first = self.intent or self.end or self.declined
        assert first is not None
        return first

    @property
    def state(self) -> str:
        if self.declined is not None:
            return "declined by the operator; nothing sent"
        if self.end is None:
            return "no outcome recorded"
        return "confirmed" if self.end.details.get("confirmed") is True else "NOT confirmed"

    @property
    def confirmed(self) -> bool:
        return self.end is not None and self.end.details.get("confirmed") is True

    @property
    def target(self) -> str:
        details = self.intent.details if self.intent else {}
        name, kind = details.get("name"), details.get("type")
        return f"{name} {kind}" if name else "the DNS snapshot"

    @property
    def summary(self) -> str:
        return str((self.end.details if self.end else {}).get("summary") or "")

    @property
    def attempts(self) -> Any:
        return self.end.details.get("attempts") if self.end else None

    @property
    def duration_s(self) -> float | None:
        return span(self.intent, self.end)

    @property
    def verified(self) -> bool:
        return all_verified(self.intent, self.end, self.declined)

    @property
    def manual_command(self) -> str | None:
        if self.end is None or self.confirmed:
            return None
        command = self.end.details.get("manual_command")
        return str(command) if command else None

    @property
    def errors(self) -> list[str]:
        errors = (self.end.details if self.end else {}).get("errors")
        return [str(e) for e in errors] if isinstance(errors, list) else []


@dataclass(frozen=True)
class StepTiming:
    """A step's wall time in one run: the first intent (or first gate) to its last outcome."""

    run_id: str
    step: str
    first_gate: datetime | None
    first_intent: datetime | None
    last_end: datetime | None
    attempts: int
    ok: bool | None
    reconciled: bool = False  # the last outcome came from a restart: the time spans a crash

    @property
    def note(self) -> str:
        """What makes this duration not like-for-like, if anything."""
        notes = []
        if self.attempts > 1:
            notes.append(f"{self.attempts} attempts")
        if self.reconciled:
            notes.append("reconciled after a crash")
        if self.ok is False:
            notes.append("failed")
        return f" ({', '.join(notes)})" if notes else ""

    @property
    def action_s(self) -> float | None:
        if self.first_intent is None or self.last_end is None:
            return None
        return (self.last_end - self.first_intent).total_seconds()

    @property
    def step_s(self) -> float | None:
        start = self.first_gate or self.first_intent
        if start is None or self.last_end is None:
            return None
        return (self.last_end - start).total_seconds()


@dataclass(frozen=True)
class TimingRow:
    step: str
    this: StepTiming | None
    previous: StepTiming | None

    @property
    def action_s(self) -> float | None:
        return self.this.action_s if self.this else None

    @property
    def previous_action_s(self) -> float | None:
        return self.previous.action_s if self.previous else None

    @property
    def step_s(self) -> float | None:
        return self.this.step_s if self.this else None

    @property
    def previous_step_s(self) -> float | None:
        return self.previous.step_s if self.previous else None

    @property
    def note(self) -> str:
        return self.this.note if self.this else ""

    @property
    def previous_note(self) -> str:
        return self.previous.note if self.previous else ""

    @property
    def action_delta_s(self) -> float | None:
        if self.action_s is None or self.previous_action_s is None:
            return None
        return self.action_s - self.previous_action_s

    @property
    def step_delta_s(self) -> float | None:
        if self.step_s is None or self.previous_step_s is None:
            return None
        return self.step_s - self.previous_step_s


@dataclass(frozen=True)
class Previous:
    source: str
    chain: Chain
    runs: list[Run]


@dataclass
class Report:
    """Everything the report shows; both templates read only this."""

    source: str
    file_sha256: str
    file_bytes: int
    generated_at: str
    tool_version: str
    chain: Chain
    unreadable_lines: list[int]
    runs: list[Run]
    identities: list[Identity]
    gates: list[Gate]
    waivers: list[Waiver]
    actions: list[Action]
    rollbacks: list[Rollback]
    notable: list[Event]
    other_events: dict[str, int]
    timings: list[TimingRow]
    previous: Previous | None
    timeline: list[Event]

    @property
    def migration(self) -> str:
        names = unique(m for r in self.runs for m in r.migrations)
        return ", ".join(names) or "(migration not named in the log)"

    @property
    def tickets(self) -> list[str]:
        return unique(t for r in self.runs for t in r.tickets)

    @property
    def environments(self) -> list[str]:
        return unique(e for r in self.runs for e in r.environments)

    @property
    def reconciled(self) -> list[Action]:
        return [a for a in self.actions if a.reconciled or a.end is None]

    @property
    def unverified_count(self) -> int:
        return sum(1 for e in self.timeline if not e.verified)
