"""The review report: one self-contained HTML file and a Markdown twin for the change ticket.

`runbook audit report FILE` answers what a reviewer who was not there asks:
who ran what and when, each gate with its evidence, the waivers and their
reasons, rollbacks, actions settled after a crash, how long each step took
against the previous run of the same runbook (the rehearsal, when reporting on
live), and whether the hash chain verifies.

Everything in an audit log is treated as hostile text: operators type waiver
reasons, checks copy AWS responses into evidence. Every value is redacted again
(defence in depth: the log was redacted when written, but by whichever version
of the tool wrote it) and then escaped for the format it lands in. The HTML has
inline CSS only, no script, and a Content-Security-Policy that forbids loading
anything, so opening it sends nothing anywhere.

A broken chain still gets a report of what can be read, marked as not
trustworthy, with each record the chain no longer vouches for flagged.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook import __version__
from runbook.audit.verify import verify
from runbook.aws.redact import redact, redact_text

EXIT_OK, EXIT_NOT_INTACT, EXIT_USAGE = 0, 1, 2
TIMELINE_LIMIT = 5000  # beyond this the timeline is `runbook audit show`'s job
_RUN_EVENTS = ("run.started", "run.resumed")
_ACTION_ENDS = ("action.outcome", "action.reconciled")
# Events a reviewer must see even though they belong to no table of their own.
_NOTABLE = (
    "identity.mismatch",
    "action.refused",
    "action.not_confirmed",
    "rollback.not_confirmed",
    "dns.snapshot_saved",
    "audit.torn_tail_discarded",
)
_KNOWN = frozenset(
    (
        *_RUN_EVENTS,
        *_ACTION_ENDS,
        *_NOTABLE,
        "identity.verified",
        "gate.started",
        "check.result",
        "gate.finished",
        "gate.waived",
        "action.intent",
        "rollback.intent",
        "rollback.outcome",
    )
)


class ReportInputError(Exception):
    """The input is not a readable audit log (or the output cannot be written): exit 2."""


# --- the model ------------------------------------------------------------------


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
        return _parse_time(self.time)

    @property
    def who(self) -> str:
        return _who(self.operator.get("local_user"), self.operator.get("aws_arn"))


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
        return self.start.event == "run.resumed"


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
        return [_who(u, a) for u, a in self.operators if a or u not in with_arn]


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
        return _span(self.started, self.finished)

    @property
    def verified(self) -> bool:
        events = [self.started, self.finished, *(c.event for c in self.checks)]
        return all(e.verified for e in events if e is not None)


@dataclass(frozen=True)
class WaivedCheck:
    check: str
    status: str
    summary: str


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
        return self.end is not None and self.end.event == "action.reconciled"

    @property
    def duration_s(self) -> float | None:
        return _span(self.intent, self.end)

    @property
    def at(self) -> Event:
        first = self.intent or self.end
        assert first is not None
        return first

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
            return "not confirmed by the operator; nothing sent"
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
    def action_delta_s(self) -> float | None:
        return _delta(self.this.action_s if self.this else None, self.previous)

    @property
    def step_delta_s(self) -> float | None:
        if self.this is None or self.previous is None:
            return None
        if self.this.step_s is None or self.previous.step_s is None:
            return None
        return self.this.step_s - self.previous.step_s


@dataclass(frozen=True)
class Previous:
    source: str
    chain: Chain
    runs: list[Run]


@dataclass
class Report:
    """Everything the report shows; both renderers read only this."""

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
        names = _unique(m for r in self.runs for m in r.migrations)
        return ", ".join(names) or "(migration not named in the log)"

    @property
    def tickets(self) -> list[str]:
        return _unique(t for r in self.runs for t in r.tickets)

    @property
    def environments(self) -> list[str]:
        return _unique(e for r in self.runs for e in r.environments)

    @property
    def reconciled(self) -> list[Action]:
        return [a for a in self.actions if a.reconciled or a.end is None]

    @property
    def unverified_count(self) -> int:
        return sum(1 for e in self.timeline if not e.verified)


# --- reading ----------------------------------------------------------------------


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _span(start: Event | None, end: Event | None) -> float | None:
    a, b = (start.when if start else None), (end.when if end else None)
    return None if a is None or b is None else (b - a).total_seconds()


def _delta(this: float | None, previous: StepTiming | None) -> float | None:
    if this is None or previous is None or previous.action_s is None:
        return None
    return this - previous.action_s


def _who(user: Any, arn: Any) -> str:
    user_text = str(user) if user else "(unknown local user)"
    return f"{user_text} as {arn}" if arn else user_text


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value not in (None, ""):
            seen.setdefault(str(value), None)
    return list(seen)


def _chain(path: Path) -> Chain:
    result = verify(path)
    if result.ok:
        state = "intact"
    elif result.torn_tail:
        state = "torn tail"
    else:
        state = "broken"
    return Chain(
        state=state,
        headline=result.describe(),
        # A torn tail is a crash mid-write: every complete record still verifies.
        trustworthy=result.ok or result.torn_tail,
        records_verified=result.count,
        head_hash=result.head_hash,
        bad_seq=result.bad_seq,
        bad_line=result.bad_line,
        reason=result.reason,
    )


def _read(path: Path) -> tuple[bytes, Chain, list[Event], list[int]]:
    if not path.exists():
        raise ReportInputError(f"{path}: no such file")
    if not path.is_file():
        raise ReportInputError(f"{path}: not a file")
    try:
        data = path.read_bytes()
        chain = _chain(path)
    except OSError as exc:
        raise ReportInputError(f"{path}: {exc.strerror or exc}") from None
    events: list[Event] = []
    unreadable: list[int] = []
    lines = data.split(b"\n")
    for index, raw in enumerate(lines):
        if index == len(lines) - 1:
            break  # empty after the final newline, or a torn line: nothing acknowledged
        number = index + 1
        try:
            record = json.loads(raw)
        except ValueError:
            unreadable.append(number)
            continue
        if not isinstance(record, dict):
            unreadable.append(number)
            continue
        # The chain vouches for lines 1..count; any later line (tampered, or
        # appended after verify ran) is shown but flagged.
        events.append(_event(number, redact(record), verified=number <= chain.records_verified))
    if not events:
        raise ReportInputError(f"{path}: not an audit log: no record could be read")
    return data, chain, events, unreadable


def _event(line: int, record: dict[str, Any], *, verified: bool) -> Event:
    seq = record.get("seq")
    details = record.get("details")
    operator = record.get("operator")
    step = record.get("step")
    return Event(
        line=line,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        time=str(record.get("time") or ""),
        run_id=str(record.get("run_id") or "?"),
        environment=str(record.get("environment") or "?"),
        operator=operator if isinstance(operator, dict) else {},
        step=None if step is None else str(step),
        event=str(record.get("event") or "?"),
        details=details if isinstance(details, dict) else {"value": details},
        verified=verified,
    )


def _str_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value in (None, "") else [str(value)]


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class _Builder:
    """One pass over the events, pairing starts with ends per run and step."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.identities: list[Identity] = []
        self.gates: list[Gate] = []
        self.waivers: list[Waiver] = []
        self.actions: list[Action] = []
        self.rollbacks: list[Rollback] = []
        self.notable: list[Event] = []
        self.other: Counter[str] = Counter()
        self._open_gates: dict[tuple[str, str], Gate] = {}
        self._open_actions: dict[tuple[str, str], Action] = {}
        self._open_rollbacks: dict[str, Rollback] = {}
        self._session: dict[str, Session] = {}

    def feed(self, e: Event) -> None:
        self._run(e)
        handler = {
            "gate.started": self._gate_started,
            "check.result": self._check_result,
            "gate.finished": self._gate_finished,
            "gate.waived": self._waived,
            "action.intent": self._intent,
            "action.outcome": self._action_end,
            "action.reconciled": self._action_end,
            "rollback.intent": self._rollback_intent,
            "rollback.outcome": self._rollback_outcome,
            "rollback.not_confirmed": self._rollback_declined,
            "identity.verified": self._identity,
            "identity.mismatch": self._identity,
        }.get(e.event)
        if handler is not None:
            handler(e)
        if e.event in _NOTABLE:
            self.notable.append(e)
        if e.event not in _KNOWN:
            self.other[e.event] += 1

    def _run(self, e: Event) -> None:
        run = self.runs.get(e.run_id)
        if run is None:
            run = self.runs[e.run_id] = Run(e.run_id, first=e, last=e)
        run.last = e
        run.count += 1
        run.environments = _unique([*run.environments, e.environment])
        pair = (
            None if e.operator.get("local_user") is None else str(e.operator["local_user"]),
            None if e.operator.get("aws_arn") is None else str(e.operator["aws_arn"]),
        )
        if pair not in run.operators:
            run.operators.append(pair)
        if e.event in _RUN_EVENTS:
            d = e.details
            run.migrations = _unique([*run.migrations, d.get("migration")])
            run.tickets = _unique([*run.tickets, d.get("ticket")])
            run.runbooks = _unique([*run.runbooks, d.get("runbook")])
            run.versions = _unique([*run.versions, d.get("version")])
            session = Session(start=e)
            run.sessions.append(session)
            self._session[e.run_id] = session
        session_now = self._session.get(e.run_id)
        if session_now is not None:
            session_now.last = e
            if pair[1] is not None and pair[1] not in session_now.arns:
                session_now.arns.append(pair[1])

    def _gate_started(self, e: Event) -> None:
        key = (e.run_id, e.step or "-")
        gate = Gate(e.run_id, key[1], started=e, requested=_str_list(e.details.get("checks")))
        self._open_gates[key] = gate  # an unfinished earlier gate stays listed, unfinished
        self.gates.append(gate)

    def _open_gate(self, e: Event) -> Gate:
        key = (e.run_id, e.step or "-")
        gate = self._open_gates.get(key)
        if gate is None:  # its gate.started was lost (or is unreadable)
            gate = self._open_gates[key] = Gate(e.run_id, key[1])
            self.gates.append(gate)
        return gate

    def _check_result(self, e: Event) -> None:
        d = e.details
        self._open_gate(e).checks.append(
            CheckRow(
                event=e,
                check=str(d.get("check") or "?"),
                title=str(d.get("title") or ""),
                blocking=d.get("blocking") if isinstance(d.get("blocking"), bool) else None,
                status=str(d.get("status") or "?"),
                summary=str(d.get("summary") or ""),
                details=_str_list(d.get("details")),
                evidence=d.get("evidence"),
                duration_s=_float(d.get("duration_s")),
            )
        )

    def _gate_finished(self, e: Event) -> None:
        gate = self._open_gate(e)
        gate.finished = e
        passed = e.details.get("passed")
        gate.passed = passed if isinstance(passed, bool) else None
        statuses = e.details.get("statuses")
        if isinstance(statuses, dict):
            ran = {c.check for c in gate.checks}
            gate.carried = {str(k): str(v) for k, v in statuses.items() if k not in ran}
        self._open_gates.pop((e.run_id, e.step or "-"), None)

    def _waived(self, e: Event) -> None:
        waived = []
        for item in e.details.get("waived_checks") or []:
            if isinstance(item, dict):
                waived.append(
                    WaivedCheck(
                        str(item.get("check") or "?"),
                        str(item.get("status") or "?"),
                        str(item.get("summary") or ""),
                    )
                )
        self.waivers.append(Waiver(e, str(e.details.get("reason") or ""), waived))

    def _intent(self, e: Event) -> None:
        action = Action(e.run_id, e.step or "-", intent=e)
        # An earlier intent still open stays listed with no outcome: that is the finding.
        self._open_actions[(e.run_id, action.step)] = action
        self.actions.append(action)

    def _action_end(self, e: Event) -> None:
        action = self._open_actions.pop((e.run_id, e.step or "-"), None)
        if action is None:
            action = Action(e.run_id, e.step or "-")
            self.actions.append(action)
        action.end = e

    def _rollback_intent(self, e: Event) -> None:
        rollback = Rollback(e.run_id, intent=e)
        self._open_rollbacks[e.run_id] = rollback
        self.rollbacks.append(rollback)

    def _rollback_outcome(self, e: Event) -> None:
        rollback = self._open_rollbacks.pop(e.run_id, None)
        if rollback is None:
            rollback = Rollback(e.run_id)
            self.rollbacks.append(rollback)
        rollback.end = e

    def _rollback_declined(self, e: Event) -> None:
        self.rollbacks.append(Rollback(e.run_id, declined=e))

    def _identity(self, e: Event) -> None:
        accounts = [a for a in e.details.get("accounts") or [] if isinstance(a, dict)]
        self.identities.append(Identity(e, e.event == "identity.verified", accounts))


def _timings(builder: _Builder) -> dict[tuple[str, str], StepTiming]:
    first_gate: dict[tuple[str, str], datetime] = {}
    for gate in builder.gates:
        when = gate.started.when if gate.started else None
        key = (gate.run_id, gate.step)
        if when is not None and key not in first_gate:
            first_gate[key] = when
    by_step: dict[tuple[str, str], list[Action]] = {}
    for action in builder.actions:
        by_step.setdefault((action.run_id, action.step), []).append(action)
    timings = {}
    for key, attempts in by_step.items():
        intents = [a.intent.when for a in attempts if a.intent and a.intent.when]
        ends = [a for a in attempts if a.end is not None and a.end.when is not None]
        last = ends[-1] if ends else None
        timings[key] = StepTiming(
            run_id=key[0],
            step=key[1],
            first_gate=first_gate.get(key),
            first_intent=intents[0] if intents else None,
            last_end=last.end.when if last and last.end else None,
            attempts=sum(1 for a in attempts if a.intent is not None),
            ok=last.ok if last else None,
            reconciled=bool(last and last.reconciled),
        )
    return timings


def _compare(
    this: dict[tuple[str, str], StepTiming], previous: dict[tuple[str, str], StepTiming] | None
) -> list[TimingRow]:
    """Match steps by id; the previous log's latest run that finished the step wins."""
    prev_by_step: dict[str, StepTiming] = {}
    for timing in (previous or {}).values():
        best = prev_by_step.get(timing.step)
        if best is None or timing.last_end is not None or best.last_end is None:
            prev_by_step[timing.step] = timing
    rows = [TimingRow(t.step, t, prev_by_step.get(t.step)) for t in this.values()]
    done = {t.step for t in this.values()}
    rows += [TimingRow(s, None, t) for s, t in prev_by_step.items() if s not in done]
    return rows


def _analyse(path: Path) -> tuple[bytes, Chain, list[Event], list[int], _Builder]:
    data, chain, events, unreadable = _read(path)
    builder = _Builder()
    for event in events:
        builder.feed(event)
    return data, chain, events, unreadable, builder


def build_report(
    path: Path, *, previous: Path | None = None, generated_at: datetime | None = None
) -> Report:
    """Read, verify and digest an audit log (and the previous run's, to compare durations)."""
    data, chain, events, unreadable, built = _analyse(path)
    prev: Previous | None = None
    prev_timings: dict[tuple[str, str], StepTiming] | None = None
    if previous is not None:
        _pdata, pchain, _pevents, _punread, pbuilt = _analyse(previous)
        prev = Previous(str(previous), pchain, list(pbuilt.runs.values()))
        prev_timings = _timings(pbuilt)
    return Report(
        source=str(path),
        file_sha256=hashlib.sha256(data).hexdigest(),
        file_bytes=len(data),
        generated_at=(generated_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        tool_version=__version__,
        chain=chain,
        unreadable_lines=unreadable,
        runs=list(built.runs.values()),
        identities=built.identities,
        gates=built.gates,
        waivers=built.waivers,
        actions=built.actions,
        rollbacks=built.rollbacks,
        notable=built.notable,
        other_events=dict(built.other.most_common()),
        timings=_compare(_timings(built), prev_timings),
        previous=prev,
        timeline=events,
    )


# --- shared formatting ----------------------------------------------------------------


def fmt_time(value: str) -> str:
    parsed = _parse_time(value)
    if parsed is None:
        return value or "?"
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1:
        text = f"{s * 1000:.0f}ms"
    elif s < 60:
        text = f"{s:.1f}s"
    elif s < 3600:
        text = f"{int(s // 60)}m {int(s % 60):02d}s"
    else:
        text = f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return sign + text


def fmt_delta(delta: float | None, base: float | None) -> str:
    if delta is None:
        return "-"
    text = ("+" if delta >= 0 else "-") + fmt_duration(abs(delta))
    if base:
        text += f" ({delta / base:+.0%})"
    return text


def gist(e: Event) -> str:
    """The one line that says what a record is about."""
    d = e.details
    if e.event == "check.result":
        return f"{d.get('check')} {d.get('status')}: {d.get('summary')}"
    if e.event == "gate.finished":
        return "passed" if d.get("passed") is True else "NOT passed"
    if e.event == "gate.started":
        return ", ".join(_str_list(d.get("checks"))) or "(no checks)"
    if e.event == "action.intent":
        return str(d.get("kind") or "")
    if e.event.startswith("identity."):
        accounts = [a for a in d.get("accounts") or [] if isinstance(a, dict)]
        return ", ".join(
            f"{a.get('account')} {a.get('actual') or a.get('error')}" for a in accounts
        )
    if e.event in _RUN_EVENTS:
        return f"{d.get('migration')} (ticket {d.get('ticket') or 'none'})"
    if e.event == "rollback.intent":
        return f"{d.get('name')} {d.get('type')} back to the snapshot"
    if e.event == "rollback.outcome":
        return str(d.get("summary") or ("confirmed" if d.get("confirmed") else "NOT confirmed"))
    for key in ("summary", "reason", "note", "confirm", "path"):
        if d.get(key):
            return str(d[key])
    return ""


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _status_word(status: str) -> str:
    return status.upper() if status else "?"


def _no_previous_text() -> str:
    return (
        "No previous run given: durations are not compared. Pass --previous FILE "
        "(for live, the rehearsal's audit log) to compare."
    )


def _chain_lines(report: Report) -> tuple[str, list[str]]:
    """Banner title and explanation, shared by both formats."""
    c = report.chain
    if c.state == "intact":
        title = f"Chain intact: {c.records_verified} records verify"
        more = []
    elif c.state == "torn tail":
        title = f"Chain has a torn tail at line {c.bad_line}"
        more = [
            f"{c.headline}.",
            "The last line was cut short by a crash during a write; it was never "
            "acknowledged. Every complete record before it verifies.",
        ]
    else:
        title = f"NOT TRUSTWORTHY: chain broken at seq {c.bad_seq} (line {c.bad_line})"
        more = [
            f"{c.headline}.",
            f"Only the first {c.records_verified} records verify. The rest is shown "
            f"as read ({report.unverified_count} records flagged UNVERIFIED) and must "
            "not be relied on.",
        ]
    if report.unreadable_lines:
        lines = ", ".join(str(n) for n in report.unreadable_lines[:20])
        more.append(f"Unreadable lines left out: {lines}.")
    return title, more


def _previous_runs(previous: Previous) -> str:
    return ", ".join(
        f"{r.run_id} ({', '.join(r.environments)}, started {fmt_time(r.first.time)})"
        for r in previous.runs
    )


def _glance(report: Report) -> list[str]:
    """The counts a reviewer reads first; each one is detailed further down."""
    actions = report.actions
    failed = sum(1 for a in actions if a.ok is False)
    open_ = sum(1 for a in actions if a.ok is None)
    gates_failed = sum(1 for g in report.gates if g.passed is not True)
    rollbacks = report.rollbacks
    confirmed = sum(1 for r in rollbacks if r.confirmed)
    operators = _unique(w for r in report.runs for w in r.who)
    sessions = sum(len(r.sessions) for r in report.runs)
    return [
        f"{len(report.runs)} run(s), {sessions} session(s), by {'; '.join(operators) or '?'}",
        f"{len(actions)} action(s): {len(actions) - failed - open_} ok, {failed} failed, "
        f"{open_} without an outcome, {sum(1 for a in actions if a.reconciled)} reconciled "
        "after a crash",
        f"{len(report.gates)} gate run(s), {gates_failed} not passed; "
        f"{len(report.waivers)} waiver(s)",
        f"{len(rollbacks)} rollback(s): {confirmed} confirmed, {len(rollbacks) - confirmed} not",
    ]


def _head_note() -> str:
    return (
        "Compare the head hash with the one printed when the run ended and written "
        "down off the machine: a chain alone cannot reveal a truncated tail."
    )


# --- Markdown -------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])")
# An underscore inside a word (dns.lower_ttl) cannot start emphasis; only escape the rest.
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(value: Any) -> str:
    """Redacted, one line, and inert: no markup, no raw HTML, no table-breaking pipes."""
    if value is None:
        return "-"
    text = redact_text(str(value)).replace("\r", " ").replace("\n", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_UNDERSCORE.sub(r"\\_", _MD_SPECIAL.sub(r"\\\1", text))


def md_code(value: Any) -> str:
    text = redact_text(str(value))
    if any(ch in text for ch in "`|\r\n") or not text:
        return md(text)  # a code span cannot hold these safely inside a table
    return f"`{text}`"


def md_fence(text: str, lang: str = "") -> str:
    text = redact_text(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_md_row(header), _md_row(["---"] * len(header)), *(_md_row(r) for r in rows)]


def _md_flag(verified: bool) -> str:
    return "" if verified else " **UNVERIFIED**"


def render_markdown(report: Report) -> str:
    out: list[str] = []
    add = out.append
    add(f"# Audit report: {md(report.migration)}")
    add("")
    title, more = _chain_lines(report)
    add(f"> **{md(title)}**")
    for line in more:
        add(">")
        add(f"> {md(line)}")
    add(">")
    add(f"> Head hash: `{report.chain.head_hash or 'none'}`")
    add(">")
    add(f"> {md(_head_note())}")
    add("")
    add(f"- Ticket: {md(', '.join(report.tickets) or 'none recorded')}")
    add(f"- Environment: {md(', '.join(report.environments))}")
    add(
        f"- Audit log: {md_code(report.source)} "
        f"({report.file_bytes} bytes, sha256 `{report.file_sha256}`)"
    )
    add(
        f"- Report generated {md(fmt_time(report.generated_at))} UTC "
        f"by runbook {md(report.tool_version)}; all times UTC"
    )
    add("")
    add("**At a glance**")
    add("")
    for line in _glance(report):
        add(f"- {md(line)}")
    add("")

    add("## Who ran it, and when")
    add("")
    for run in report.runs:
        add(f"### Run {md_code(run.run_id)}{_md_flag(run.first.verified and run.last.verified)}")
        add("")
        add(f"- Migration: {md(', '.join(run.migrations) or '(not recorded)')}")
        add(f"- Ticket: {md(', '.join(run.tickets) or 'none recorded')}")
        add(f"- Environment: {md(', '.join(run.environments))}")
        add(f"- Operators: {md('; '.join(run.who))}")
        add(
            f"- Runbook: {md(', '.join(run.runbooks) or '-')} "
            f"(runbook version {md(', '.join(run.versions) or '-')})"
        )
        add(
            f"- From {md(fmt_time(run.first.time))} to {md(fmt_time(run.last.time))} "
            f"(seq {run.first.seq} to {run.last.seq}, {run.count} records)"
        )
        add("")
        if run.sessions:
            rows = [
                [
                    md(fmt_time(s.start.time)),
                    "resumed" if s.resumed else "started",
                    md(_who(s.start.operator.get("local_user"), None)),
                    md(", ".join(s.arns) or "-"),
                    md(fmt_time(s.last.time)) if s.last else "-",
                ]
                for s in run.sessions
            ]
            out += _md_table(["at", "session", "local user", "AWS identity", "last record"], rows)
            add("")
    if report.identities:
        add("### Account identity checks")
        add("")
        for ident in report.identities:
            verdict = "verified" if ident.ok else "**MISMATCH**"
            add(f"- {md(fmt_time(ident.event.time))}: {verdict}{_md_flag(ident.event.verified)}")
            for acct in ident.accounts:
                add(
                    f"  - {md(acct.get('account'))}: expected {md(acct.get('expected'))}, "
                    f"got {md(acct.get('actual') or acct.get('error'))} as {md(acct.get('arn'))}"
                )
        add("")

    add("## What was done")
    add("")
    if report.actions:
        rows = [
            [
                md(fmt_time(a.at.time)),
                md_code(a.step),
                md(a.kind),
                md(a.at.who),
                _md_result(a.ok, a.reconciled),
                md(a.summary) + _md_flag(a.at.verified and (a.end is None or a.end.verified)),
                md(fmt_duration(a.duration_s)),
            ]
            for a in report.actions
        ]
        out += _md_table(["at", "step", "action", "by", "result", "summary", "took"], rows)
    else:
        add("No action was run.")
    add("")

    add("## Step durations compared with the previous run")
    add("")
    if report.previous is None:
        add(md(_no_previous_text()))
    else:
        p = report.previous
        prev_runs = _previous_runs(p)
        add(
            f"Previous run: {md_code(p.source)}, run {md(prev_runs)}; "
            f"its chain: {md(p.chain.headline)}"
        )
        if not p.chain.trustworthy:
            add("")
            add("**The previous log's chain does not verify: its durations are not trustworthy.**")
    add("")
    if report.timings:
        multi = len(report.runs) > 1
        rows = []
        for row in report.timings:
            this, prev = row.this, row.previous
            cells = [md_code(row.step)]
            if multi:
                cells.append(md_code(this.run_id) if this else "-")
            cells += [
                md(fmt_duration(this.action_s if this else None) + _note(this)),
                md(fmt_duration(prev.action_s if prev else None) + _note(prev)),
                md(fmt_delta(row.action_delta_s, prev.action_s if prev else None)),
                md(fmt_duration(this.step_s if this else None)),
                md(fmt_duration(prev.step_s if prev else None)),
                md(fmt_delta(row.step_delta_s, prev.step_s if prev else None)),
            ]
            rows.append(cells)
        header = ["step", *(["run"] if multi else [])]
        header += ["action", "previous", "change", "gate to done", "previous", "change"]
        out += _md_table(header, rows)
        add("")
        add(
            "_action_: first intent to the step's last outcome (retries included); "
            "_gate to done_: first gate started to the same outcome."
        )
        add("")

    add("## Gates")
    add("")
    if not report.gates:
        add("No gate was run.")
        add("")
    for gate in report.gates:
        verdict = {True: "passed", False: "**NOT passed**", None: "**did not finish**"}[gate.passed]
        add(
            f"### {md_code(gate.step)}: {verdict} at {md(fmt_time(gate.at.time))} "
            f"(took {md(fmt_duration(gate.duration_s))}){_md_flag(gate.verified)}"
        )
        add("")
        if gate.checks:
            rows = [
                [
                    f"**{md(_status_word(c.status))}**",
                    md_code(c.check),
                    md(c.title),
                    {True: "blocking", False: "advisory", None: "-"}[c.blocking],
                    md(c.summary) + _md_flag(c.event.verified),
                    md(fmt_duration(c.duration_s)),
                ]
                for c in gate.checks
            ]
            out += _md_table(["status", "check", "title", "kind", "summary", "took"], rows)
            add("")
        else:
            add("No check ran in this gate.")
            add("")
        for name, status in gate.carried.items():
            add(f"- Counted from an earlier run of this gate: {md_code(name)} {md(status)}")
        if gate.carried:
            add("")
        for c in gate.checks:
            if not c.details and c.evidence in (None, {}, []):
                continue
            add(f"**{md_code(c.check)}**")
            add("")
            for line in c.details:
                add(f"- {md(line)}")
            if c.details:
                add("")
            if c.evidence not in (None, {}, []):
                add("Evidence:")
                add("")
                add(md_fence(_json(c.evidence), "json"))
                add("")

    add("## Waivers")
    add("")
    if not report.waivers:
        add("No gate was waived.")
        add("")
    for w in report.waivers:
        add(
            f"- {md(fmt_time(w.event.time))}, step {md_code(w.event.step or '-')}, "
            f"by {md(w.event.who)}{_md_flag(w.event.verified)}"
        )
        add(f"  - Reason: {md(w.reason)}")
        for item in w.waived:
            add(f"  - Waived: {md_code(item.check)} {md(item.status)}: {md(item.summary)}")
        if not w.waived:
            add("  - Waived: no failing blocking check was recorded")
    if report.waivers:
        add("")

    add("## Rollbacks")
    add("")
    if not report.rollbacks:
        add("No rollback was attempted.")
        add("")
    for rb in report.rollbacks:
        flag = _md_flag(all(e.verified for e in (rb.intent, rb.end, rb.declined) if e))
        add(
            f"- {md(fmt_time(rb.at.time))}: {md(rb.target)}: **{md(rb.state)}** "
            f"by {md(rb.at.who)}{flag}"
        )
        if rb.summary:
            add(f"  - {md(rb.summary)}")
        if rb.end is not None:
            add(
                f"  - Attempts: {md(rb.end.details.get('attempts'))}, "
                f"took {md(fmt_duration(_span(rb.intent, rb.end)))}"
            )
        for error in rb.errors[-3:]:
            add(f"  - Error: {md(error)}")
        if rb.manual_command:
            add("  - Manual command (rollback was not confirmed):")
            add("")
            add("    " + md_fence(rb.manual_command, "sh").replace("\n", "\n    "))
    if report.rollbacks:
        add("")

    add("## Interrupted actions and reconciliation after crashes")
    add("")
    if not report.reconciled:
        add("No action was interrupted.")
        add("")
    for a in report.reconciled:
        intent = (
            f"intent seq {a.intent.seq} at {fmt_time(a.intent.time)}" if a.intent else "no intent"
        )
        if a.end is None:
            add(
                f"- {md_code(a.step)}: {md(intent)}; **no outcome recorded**: "
                "interrupted and not reconciled in this log"
            )
        else:
            add(
                f"- {md_code(a.step)}: {md(intent)}; reconciled at {md(fmt_time(a.end.time))} "
                f"by {md(a.end.who)}: {_md_result(a.ok, False)}: {md(a.summary)}"
                f"{_md_flag(a.end.verified)}"
            )
    if report.reconciled:
        add("")

    add("## Other notable events")
    add("")
    if report.notable:
        rows = [
            [
                md(e.seq),
                md(fmt_time(e.time)),
                md_code(e.step) if e.step else "-",
                md_code(e.event),
                md(gist(e)) + _md_flag(e.verified),
            ]
            for e in report.notable
        ]
        out += _md_table(["seq", "at", "step", "event", "what"], rows)
    else:
        add("None.")
    add("")
    if report.other_events:
        add(
            "Other event kinds: "
            + ", ".join(f"{md_code(k)} x{n}" for k, n in report.other_events.items())
        )
        add("")

    add("## Timeline")
    add("")
    rows = [
        [
            md(e.seq),
            md(fmt_time(e.time)),
            md_code(e.step) if e.step else "-",
            md_code(e.event),
            md(gist(e)) + _md_flag(e.verified),
        ]
        for e in report.timeline[:TIMELINE_LIMIT]
    ]
    out += _md_table(["seq", "at", "step", "event", "what"], rows)
    if len(report.timeline) > TIMELINE_LIMIT:
        add("")
        add(f"{len(report.timeline) - TIMELINE_LIMIT} more records: see `runbook audit show`.")
    add("")
    return "\n".join(out)


def _md_result(ok: bool | None, reconciled: bool) -> str:
    word = {True: "ok", False: "**FAILED**", None: "**no outcome**"}[ok]
    return f"{word} (reconciled)" if reconciled else word


def _note(timing: StepTiming | None) -> str:
    return timing.note if timing else ""


# --- HTML -----------------------------------------------------------------------------

# Inline only, and a policy that forbids fetching anything: the file may be
# opened from a ticket on a machine that should not call out.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5em; color: #1b1f24; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 .3em; }
h2 { border-bottom: 2px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
h3 { margin: 1.4em 0 .4em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; }
th, td { border: 1px solid #d0d7de; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                   font-size: 12.5px; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; white-space: pre-wrap;
      word-break: break-all; margin: .3em 0; }
.banner { border-radius: 6px; padding: 1em 1.2em; margin: 1em 0 1.5em; border: 3px solid; }
.banner h2 { border: 0; margin: 0 0 .3em; padding: 0; }
.banner.ok { background: #dafbe1; border-color: #1a7f37; }
.banner.torn { background: #fff8c5; border-color: #9a6700; }
.banner.bad { background: #ffebe9; border-color: #cf222e; color: #82071e; }
.hash { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 15px;
        font-weight: bold; word-break: break-all; }
.badge { display: inline-block; padding: .1em .6em; border-radius: 1em; font-weight: bold;
         border: 1px solid #8c959f; }
.env-production { background: #cf222e; color: #fff; border-color: #cf222e; }
.s-pass, .s-ok, .s-confirmed { color: #1a7f37; font-weight: bold; }
.s-warn, .s-torn { color: #9a6700; font-weight: bold; }
.s-fail, .s-error, .s-bad { color: #cf222e; font-weight: bold; }
.s-skipped { color: #57606a; font-weight: bold; }
.unverified { background: #ffebe9; color: #82071e; font-weight: bold; padding: 0 .3em;
              border-radius: 3px; font-size: 11px; margin-left: .4em; }
.gate { border: 1px solid #d0d7de; border-radius: 6px; padding: .2em 1em .6em;
        margin: 1em 0; }
.gate.passed { border-left: 6px solid #1a7f37; }
.gate.failed { border-left: 6px solid #cf222e; }
.muted { color: #57606a; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
details > summary { cursor: pointer; color: #0969da; }
"""


def h(value: Any) -> str:
    """Redacted and escaped: audit values are operator input and AWS responses."""
    if value is None:
        return "-"
    return html.escape(redact_text(str(value)), quote=True)


def _cls(name: str) -> str:
    """A CSS class derived from a value: only [a-z0-9-] survive."""
    return re.sub(r"[^a-z0-9-]", "-", str(name).lower())


def _unverified(verified: bool) -> str:
    return "" if verified else '<span class="unverified">UNVERIFIED</span>'


def _status_html(status: str) -> str:
    return f'<span class="s-{_cls(status)}">{h(_status_word(status))}</span>'


def _result_html(ok: bool | None, reconciled: bool = False) -> str:
    word = {True: ("ok", "ok"), False: ("fail", "FAILED"), None: ("warn", "no outcome")}[ok]
    text = f'<span class="s-{word[0]}">{word[1]}</span>'
    return text + (" (reconciled)" if reconciled else "")


def _pre_details(label: str, value: Any) -> str:
    text = value if isinstance(value, str) else _json(value)
    return f"<details><summary>{h(label)}</summary><pre>{h(text)}</pre></details>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are already-escaped HTML fragments."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _env_badges(envs: list[str]) -> str:
    return " ".join(f'<span class="badge env-{_cls(e)}">{h(e)}</span>' for e in envs) or "-"


def render_html(report: Report) -> str:
    parts: list[str] = []
    add = parts.append
    title = f"Audit report: {report.migration}"
    add("<!DOCTYPE html>")
    add('<html lang="en"><head><meta charset="utf-8">')
    add(f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add(f"<title>{h(title)}</title><style>{_CSS}</style></head><body>")
    add(f"<h1>{h(title)}</h1>")

    chain_title, more = _chain_lines(report)
    kind = {"intact": "ok", "torn tail": "torn"}.get(report.chain.state, "bad")
    add(f'<section class="banner {kind}" id="chain"><h2>{h(chain_title)}</h2>')
    for line in more:
        add(f"<p>{h(line)}</p>")
    add(f'<p>Head hash:<br><span class="hash">{h(report.chain.head_hash or "none")}</span></p>')
    add(f'<p class="muted">{h(_head_note())}</p></section>')

    add('<dl class="meta">')
    add(f"<dt>Ticket</dt><dd>{h(', '.join(report.tickets) or 'none recorded')}</dd>")
    add(f"<dt>Environment</dt><dd>{_env_badges(report.environments)}</dd>")
    add(f'<dt>Audit log</dt><dd><span class="mono">{h(report.source)}</span>, ')
    add(f'{report.file_bytes} bytes, sha256 <span class="mono">{h(report.file_sha256)}</span></dd>')
    add(f"<dt>Generated</dt><dd>{h(fmt_time(report.generated_at))} UTC by runbook ")
    add(f"{h(report.tool_version)}; all times are UTC</dd></dl>")
    add("<h2>At a glance</h2><ul>")
    add("".join(f"<li>{h(line)}</li>" for line in _glance(report)) + "</ul>")

    add("<h2>Who ran it, and when</h2>")
    for run in report.runs:
        add(f'<h3>Run <span class="mono">{h(run.run_id)}</span>')
        add(f"{_unverified(run.first.verified and run.last.verified)}</h3>")
        add('<dl class="meta">')
        add(f"<dt>Migration</dt><dd>{h(', '.join(run.migrations) or '(not recorded)')}</dd>")
        add(f"<dt>Ticket</dt><dd>{h(', '.join(run.tickets) or 'none recorded')}</dd>")
        add(f"<dt>Environment</dt><dd>{_env_badges(run.environments)}</dd>")
        add(f"<dt>Operators</dt><dd>{'<br>'.join(h(w) for w in run.who) or '-'}</dd>")
        add(f'<dt>Runbook</dt><dd><span class="mono">{h(", ".join(run.runbooks) or "-")}</span>')
        add(f" (runbook version {h(', '.join(run.versions) or '-')})</dd>")
        add(f"<dt>Span</dt><dd>{h(fmt_time(run.first.time))} to {h(fmt_time(run.last.time))}")
        add(f" (seq {h(run.first.seq)} to {h(run.last.seq)}, {run.count} records)</dd></dl>")
        if run.sessions:
            rows = [
                [
                    h(fmt_time(s.start.time)),
                    "resumed" if s.resumed else "started",
                    h(_who(s.start.operator.get("local_user"), None)),
                    h(", ".join(s.arns) or "-"),
                    h(fmt_time(s.last.time)) if s.last else "-",
                ]
                for s in run.sessions
            ]
            add(_table(["at", "session", "local user", "AWS identity", "last record"], rows))
    if report.identities:
        add("<h3>Account identity checks</h3>")
        rows = []
        for ident in report.identities:
            for acct in ident.accounts or [{}]:
                rows.append(
                    [
                        h(fmt_time(ident.event.time)) + _unverified(ident.event.verified),
                        '<span class="s-ok">verified</span>'
                        if ident.ok
                        else '<span class="s-fail">MISMATCH</span>',
                        h(acct.get("account")),
                        f'<span class="mono">{h(acct.get("expected"))}</span>',
                        f'<span class="mono">{h(acct.get("actual") or acct.get("error"))}</span>',
                        f'<span class="mono">{h(acct.get("arn"))}</span>',
                    ]
                )
        add(_table(["at", "result", "account", "expected", "actual", "as"], rows))

    add("<h2>What was done</h2>")
    if report.actions:
        rows = [
            [
                h(fmt_time(a.at.time)),
                f'<span class="mono">{h(a.step)}</span>',
                h(a.kind),
                h(a.at.who),
                _result_html(a.ok, a.reconciled),
                h(a.summary)
                + _unverified(a.at.verified and (a.end is None or a.end.verified))
                + (_pre_details("details", a.extra) if a.extra else ""),
                h(fmt_duration(a.duration_s)),
            ]
            for a in report.actions
        ]
        add(_table(["at", "step", "action", "by", "result", "summary", "took"], rows))
    else:
        add("<p>No action was run.</p>")

    add("<h2>Step durations compared with the previous run</h2>")
    if report.previous is None:
        add(f"<p>{h(_no_previous_text())}</p>")
    else:
        p = report.previous
        prev_runs = _previous_runs(p)
        add(f'<p>Previous run: <span class="mono">{h(p.source)}</span>, run {h(prev_runs)}; ')
        add(f"its chain: {h(p.chain.headline)}</p>")
        if not p.chain.trustworthy:
            add('<p class="s-bad">The previous log\'s chain does not verify: ')
            add("its durations are not trustworthy.</p>")
    if report.timings:
        multi = len(report.runs) > 1
        rows = []
        for row in report.timings:
            this, prev = row.this, row.previous
            cells = [f'<span class="mono">{h(row.step)}</span>']
            if multi:
                cells.append(f'<span class="mono">{h(this.run_id)}</span>' if this else "-")
            cells += [
                h(fmt_duration(this.action_s if this else None) + _note(this)),
                h(fmt_duration(prev.action_s if prev else None) + _note(prev)),
                h(fmt_delta(row.action_delta_s, prev.action_s if prev else None)),
                h(fmt_duration(this.step_s if this else None)),
                h(fmt_duration(prev.step_s if prev else None)),
                h(fmt_delta(row.step_delta_s, prev.step_s if prev else None)),
            ]
            rows.append(cells)
        header = ["step", *(["run"] if multi else [])]
        header += ["action", "previous", "change", "gate to done", "previous", "change"]
        add(_table(header, rows))
        add('<p class="muted"><em>action</em>: first intent to the step\'s last outcome ')
        add("(retries included); <em>gate to done</em>: first gate started to the same ")
        add("outcome.</p>")

    add("<h2>Gates</h2>")
    if not report.gates:
        add("<p>No gate was run.</p>")
    for gate in report.gates:
        state = {True: "passed", False: "failed", None: "failed"}[gate.passed]
        verdict = {
            True: '<span class="s-pass">passed</span>',
            False: '<span class="s-fail">NOT passed</span>',
            None: '<span class="s-fail">did not finish</span>',
        }[gate.passed]
        add(f'<section class="gate {state}"><h3><span class="mono">{h(gate.step)}</span>: ')
        add(f'{verdict} <small class="muted">at {h(fmt_time(gate.at.time))}, took ')
        add(f"{h(fmt_duration(gate.duration_s))}</small>{_unverified(gate.verified)}</h3>")
        if gate.checks:
            rows = []
            for c in gate.checks:
                body = h(c.summary) + _unverified(c.event.verified)
                if c.details:
                    body += "<ul>" + "".join(f"<li>{h(d)}</li>" for d in c.details) + "</ul>"
                if c.evidence not in (None, {}, []):
                    body += _pre_details("evidence", c.evidence)
                rows.append(
                    [
                        _status_html(c.status),
                        f'<span class="mono">{h(c.check)}</span><br>{h(c.title)}',
                        {True: "blocking", False: "advisory", None: "-"}[c.blocking],
                        body,
                        h(fmt_duration(c.duration_s)),
                    ]
                )
            add(_table(["status", "check", "kind", "summary, details, evidence", "took"], rows))
        else:
            add("<p>No check ran in this gate.</p>")
        if gate.carried:
            carried = ", ".join(f"{h(k)} {_status_html(v)}" for k, v in gate.carried.items())
            add(f'<p class="muted">Counted from an earlier run of this gate: {carried}</p>')
        add("</section>")

    add("<h2>Waivers</h2>")
    if report.waivers:
        rows = [
            [
                h(fmt_time(w.event.time)) + _unverified(w.event.verified),
                f'<span class="mono">{h(w.event.step or "-")}</span>',
                h(w.event.who),
                h(w.reason),
                "<br>".join(
                    f'<span class="mono">{h(i.check)}</span> {_status_html(i.status)}: '
                    f"{h(i.summary)}"
                    for i in w.waived
                )
                or "no failing blocking check was recorded",
            ]
            for w in report.waivers
        ]
        add(_table(["at", "step", "by", "reason", "waived"], rows))
    else:
        add("<p>No gate was waived.</p>")

    add("<h2>Rollbacks</h2>")
    if report.rollbacks:
        rows = []
        for rb in report.rollbacks:
            flag = _unverified(all(e.verified for e in (rb.intent, rb.end, rb.declined) if e))
            cls = "confirmed" if rb.confirmed else "bad"
            body = h(rb.summary)
            if rb.errors:
                body += "<ul>" + "".join(f"<li>{h(e)}</li>" for e in rb.errors[-3:]) + "</ul>"
            if rb.manual_command:
                body += f"<p><strong>Manual command:</strong></p><pre>{h(rb.manual_command)}</pre>"
            attempts = rb.end.details.get("attempts") if rb.end else None
            rows.append(
                [
                    h(fmt_time(rb.at.time)) + flag,
                    h(rb.target),
                    h(rb.at.who),
                    f'<span class="s-{cls}">{h(rb.state)}</span>',
                    h(attempts),
                    h(fmt_duration(_span(rb.intent, rb.end))),
                    body,
                ]
            )
        add(_table(["at", "record", "by", "result", "attempts", "took", "summary"], rows))
    else:
        add("<p>No rollback was attempted.</p>")

    add("<h2>Interrupted actions and reconciliation after crashes</h2>")
    if report.reconciled:
        rows = []
        for a in report.reconciled:
            intent = (
                f"seq {h(a.intent.seq)} at {h(fmt_time(a.intent.time))}" if a.intent else "none"
            )
            if a.end is None:
                settled = '<span class="s-bad">no outcome recorded: not reconciled</span>'
            else:
                settled = (
                    f"seq {h(a.end.seq)} at {h(fmt_time(a.end.time))} by {h(a.end.who)}"
                    + _unverified(a.end.verified)
                )
            rows.append(
                [
                    f'<span class="mono">{h(a.step)}</span>',
                    intent,
                    settled,
                    _result_html(a.ok),
                    h(a.summary),
                ]
            )
        add(_table(["step", "intent", "reconciled", "result", "summary"], rows))
    else:
        add("<p>No action was interrupted.</p>")

    add("<h2>Other notable events</h2>")
    if report.notable:
        add(_table(["seq", "at", "step", "event", "what"], [_event_row(e) for e in report.notable]))
    else:
        add("<p>None.</p>")
    if report.other_events:
        kinds = ", ".join(
            f'<span class="mono">{h(k)}</span> x{n}' for k, n in report.other_events.items()
        )
        add(f"<p>Other event kinds: {kinds}</p>")

    add("<h2>Timeline</h2>")
    shown = report.timeline[:TIMELINE_LIMIT]
    add(f"<details><summary>All {len(shown)} records</summary>")
    add(_table(["seq", "at", "step", "event", "what"], [_event_row(e) for e in shown]))
    add("</details>")
    if len(report.timeline) > TIMELINE_LIMIT:
        rest = len(report.timeline) - TIMELINE_LIMIT
        add(f"<p>{rest} more records: see <code>runbook audit show</code>.</p>")
    add("</body></html>")
    return "\n".join(parts) + "\n"


def _event_row(e: Event) -> list[str]:
    return [
        h(e.seq),
        h(fmt_time(e.time)),
        f'<span class="mono">{h(e.step)}</span>' if e.step else "-",
        f'<span class="mono">{h(e.event)}</span>',
        h(gist(e)) + _unverified(e.verified),
    ]


# --- files and the command ------------------------------------------------------------


def output_prefix(log: Path, out: Path | None) -> Path:
    """`--out` is a directory (existing, or written with a trailing slash) or a file prefix."""
    default_name = f"{log.stem}-report"
    if out is None:
        return Path.cwd() / default_name
    if out.is_dir() or str(out).endswith(("/", os.sep)):
        return out / default_name
    if out.suffix.lower() in (".html", ".htm", ".md"):
        return out.with_suffix("")
    return out


def _write_text(path: Path, text: str) -> None:
    # Write then rename: a reader (or a ticket upload) never sees half a report.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write(report: Report, prefix: Path, inputs: list[Path]) -> tuple[Path, Path]:
    html_path = prefix.with_name(prefix.name + ".html")
    md_path = prefix.with_name(prefix.name + ".md")
    for target in (html_path, md_path):
        for source in inputs:
            if target.exists() and target.resolve() == source.resolve():
                raise ReportInputError(f"{target}: would overwrite an input audit log")
    try:
        prefix.parent.mkdir(parents=True, exist_ok=True)
        _write_text(html_path, render_html(report))
        _write_text(md_path, render_markdown(report))
    except OSError as exc:
        raise ReportInputError(f"cannot write the report at {prefix}: {exc}") from None
    return html_path, md_path


def write_report(
    path: Path, out_dir_or_prefix: Path | None, previous: Path | None = None
) -> tuple[Path, Path]:
    """Build and write `<name>.html` and `<name>.md`; returns their paths."""
    report = build_report(path, previous=previous)
    inputs = [path, *([previous] if previous else [])]
    return _write(report, output_prefix(path, out_dir_or_prefix), inputs)


def report_command(path: Path, out: Path | None, previous: Path | None) -> int:
    """`runbook audit report`: 0 written; 1 written but the chain is not intact; 2 bad input."""
    try:
        report = build_report(path, previous=previous)
        inputs = [path, *([previous] if previous else [])]
        html_path, md_path = _write(report, output_prefix(path, out), inputs)
    except ReportInputError as exc:
        print(f"runbook: {exc}", file=sys.stderr)
        return EXIT_USAGE
    chain = report.chain
    stream = sys.stdout if chain.state == "intact" else sys.stderr
    if chain.state == "broken":
        print(f"{path}: NOT TRUSTWORTHY: {chain.headline}", file=stream)
    else:
        print(f"{path}: {chain.headline}", file=stream)
    if report.previous is not None:
        prev = report.previous
        if prev.chain.trustworthy:
            print(f"compared with {prev.source}: {prev.chain.headline}")
        else:
            print(f"warning: previous log {prev.source}: {prev.chain.headline}", file=sys.stderr)
    else:
        print("no previous run given: durations not compared (--previous FILE)")
    print(f"wrote {html_path}")
    print(f"wrote {md_path}")
    return EXIT_OK if chain.state == "intact" else EXIT_NOT_INTACT
