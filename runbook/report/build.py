"""Reading an audit log into the report's view model (`runbook.report.model`).

Everything in an audit log is treated as hostile text: operators type waiver
reasons, checks copy AWS responses into evidence. Every record is redacted again
here (defence in depth: the log was redacted when written, but by whichever
version of the tool wrote it); escaping is left to the templates.

A broken chain still gets a report of what can be read: each record the chain
no longer vouches for is marked unverified.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook import __version__
from runbook.audit.record import EventName, names_of
from runbook.audit.verify import verify
from runbook.aws.redact import redact
from runbook.report.model import (
    Action,
    Chain,
    CheckRow,
    Event,
    Gate,
    Identity,
    Previous,
    Report,
    ReportInputError,
    Rollback,
    Run,
    Session,
    StepTiming,
    TimingRow,
    WaivedCheck,
    Waiver,
    unique,
)

_RUN_EVENTS = (EventName.RUN_STARTED, EventName.RUN_RESUMED)
_ACTION_ENDS = (EventName.ACTION_OUTCOME, EventName.ACTION_RECONCILED)
# Events a reviewer must see even though they belong to no table of their own.
_NOTABLE = (
    EventName.IDENTITY_MISMATCH,
    EventName.ACTION_REFUSED,
    EventName.ACTION_NOT_CONFIRMED,
    EventName.ROLLBACK_NOT_CONFIRMED,
    EventName.DNS_SNAPSHOT_SAVED,
    EventName.AUDIT_TORN_TAIL_DISCARDED,
)
_KNOWN = frozenset(
    (
        *_RUN_EVENTS,
        *_ACTION_ENDS,
        *_NOTABLE,
        EventName.IDENTITY_VERIFIED,
        EventName.GATE_STARTED,
        EventName.CHECK_RESULT,
        EventName.GATE_FINISHED,
        EventName.GATE_WAIVED,
        EventName.ACTION_INTENT,
        EventName.ROLLBACK_INTENT,
        EventName.ROLLBACK_OUTCOME,
    )
)


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
        self._handlers: dict[str, Callable[[Event], None]] = {
            EventName.GATE_STARTED: self._gate_started,
            EventName.CHECK_RESULT: self._check_result,
            EventName.GATE_FINISHED: self._gate_finished,
            EventName.GATE_WAIVED: self._waived,
            EventName.ACTION_INTENT: self._intent,
            EventName.ACTION_OUTCOME: self._action_end,
            EventName.ACTION_RECONCILED: self._action_end,
            EventName.ROLLBACK_INTENT: self._rollback_intent,
            EventName.ROLLBACK_OUTCOME: self._rollback_outcome,
            EventName.ROLLBACK_NOT_CONFIRMED: self._rollback_declined,
            EventName.IDENTITY_VERIFIED: self._identity,
            EventName.IDENTITY_MISMATCH: self._identity,
        }

    def feed(self, e: Event) -> None:
        self._run(e)
        handler = self._handlers.get(e.event)
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
        run.environments = unique([*run.environments, e.environment])
        pair = (
            None if e.operator.get("local_user") is None else str(e.operator["local_user"]),
            None if e.operator.get("aws_arn") is None else str(e.operator["aws_arn"]),
        )
        if pair not in run.operators:
            run.operators.append(pair)
        if e.event in _RUN_EVENTS:
            d = e.details
            run.migrations = unique([*run.migrations, d.get("migration")])
            run.tickets = unique([*run.tickets, d.get("ticket")])
            run.runbooks = unique([*run.runbooks, d.get("runbook")])
            run.versions = unique([*run.versions, d.get("version")])
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
        gate = Gate(e.run_id, key[1], started=e, requested=names_of(e.details.get("checks")))
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
                details=names_of(d.get("details")),
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
                        str(item.get("reason") or ""),
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
        self.identities.append(Identity(e, e.event == EventName.IDENTITY_VERIFIED, accounts))


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
