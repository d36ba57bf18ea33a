"""The report's opening: how the run ended, before any detail.

Where DNS points at the end (the last flip or rollback that the log records an
outcome for), when the flips and rollbacks happened, and one row per step with
its result, its gate's verdict and any waiver beside it. Routine records are
folded here too: repeated identical identity checks become one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runbook.report.model import Action, Event, Gate, Identity, Report, Rollback, Waiver

FLIP_KIND = "dns.flip"


@dataclass(frozen=True)
class DnsOutcome:
    """Where the record points at the end of the log; `tone` is ok, warn, bad or muted."""

    state: str
    tone: str
    at: str | None
    detail: str = ""


@dataclass(frozen=True)
class Milestone:
    """A flip or a rollback: when, and what came of it."""

    what: str
    at: str
    result: str
    tone: str
    took_s: float | None = None


@dataclass
class StepRow:
    run_id: str
    step: str
    result: str = "not done"
    tone: str = "muted"
    gate: str = "not run"
    gate_tone: str = "muted"
    waivers: list[str] = field(default_factory=list)
    at: str = ""


@dataclass(frozen=True)
class IdentityGroup:
    """Consecutive identity checks with the same result, folded into one line."""

    first: Identity
    last: Identity
    count: int


@dataclass(frozen=True)
class Outcome:
    dns: DnsOutcome
    milestones: list[Milestone]
    steps: list[StepRow]
    identities: list[IdentityGroup]


def gate_verdict(gate: Gate) -> tuple[str, str]:
    """A gate's word and tone: an error in any check is never shown as a clean pass."""
    errored = [c.check for c in gate.checks if c.status == "error"]
    errored += [name for name, status in gate.carried.items() if status == "error"]
    if gate.passed is None:
        return "did not finish", "bad"
    if not gate.passed:
        return "NOT passed", "bad"
    if errored:
        return f"passed with errors ({', '.join(errored)})", "warn"
    return "passed", "ok"


def _is_flip(action: Action) -> bool:
    return action.kind == FLIP_KIND


def _dns(report: Report) -> DnsOutcome:
    """The last flip or rollback with an outcome decides; a declined rollback sent nothing."""
    ends: list[tuple[Event, Action | Rollback]] = [
        (a.end, a) for a in report.actions if _is_flip(a) and a.end is not None and a.ok
    ]
    ends += [(r.end, r) for r in report.rollbacks if r.end is not None]
    if not ends:
        ttl = [a for a in report.actions if a.kind == "dns.lower_ttl" and a.ok]
        if ttl and ttl[-1].end is not None:
            return DnsOutcome(
                "not flipped: still on the source (TTL lowered)", "muted", ttl[-1].end.time
            )
        return DnsOutcome("not flipped: DNS was not changed by this run", "muted", None)
    event, last = max(ends, key=lambda pair: pair[0].line)
    if isinstance(last, Action):
        return DnsOutcome("flipped to the target", "ok", event.time, last.summary)
    if last.confirmed:
        return DnsOutcome(
            "rolled back to the source (confirmed by read-back)", "warn", event.time, last.summary
        )
    return DnsOutcome(
        "UNKNOWN: the last rollback was NOT confirmed; check the record by hand",
        "bad",
        event.time,
        last.manual_command or last.summary,
    )


def _milestones(report: Report) -> list[Milestone]:
    found: list[tuple[int, Milestone]] = []
    for a in report.actions:
        if _is_flip(a):
            tone = "ok" if a.ok else "bad"
            text = a.summary if a.ok is None else f"{'ok' if a.ok else 'FAILED'}: {a.summary}"
            found.append((a.at.line, Milestone("flip", a.at.time, text, tone, a.duration_s)))
    for r in report.rollbacks:
        tone = "muted" if r.declined else ("ok" if r.confirmed else "bad")
        text = r.state if r.declined or not r.summary else f"{r.state}: {r.summary}"
        found.append((r.at.line, Milestone("rollback", r.at.time, text, tone, r.duration_s)))
    return [m for _line, m in sorted(found, key=lambda pair: pair[0])]


def _waiver_lines(waiver: Waiver) -> list[str]:
    if not waiver.waived:
        return [waiver.reason]
    return [f"{w.check} {w.status}: {w.reason or waiver.reason}" for w in waiver.waived]


def _steps(report: Report) -> list[StepRow]:
    rows: dict[tuple[str, str], StepRow] = {}

    def row(run_id: str, step: str) -> StepRow:
        return rows.setdefault((run_id, step), StepRow(run_id, step))

    for gate in report.gates:
        r = row(gate.run_id, gate.step)
        r.gate, r.gate_tone = gate_verdict(gate)
        r.at = gate.at.time
    for waiver in report.waivers:
        r = row(waiver.event.run_id, waiver.event.step or "-")
        r.waivers += _waiver_lines(waiver)
    for action in report.actions:
        r = row(action.run_id, action.step)
        r.at = (action.end or action.at).time
        if action.ok:
            r.result, r.tone = "done", "ok"
        elif action.ok is False:
            r.result, r.tone = "FAILED", "bad"
        else:
            r.result, r.tone = "no outcome (interrupted)", "bad"
    for r in rows.values():
        if r.waivers and r.result == "done":
            r.result, r.tone = "done under a waiver", "waived"
        elif r.waivers and r.result == "not done":
            r.result, r.tone = "waived, not done", "waived"
    # A flip that was done and then rolled back (confirmed) no longer stands.
    rolled_back = [r.end.line for r in report.rollbacks if r.confirmed and r.end is not None]
    for action in report.actions:
        if _is_flip(action) and action.ok and action.end is not None:
            r = row(action.run_id, action.step)
            if (
                any(line > action.end.line for line in rolled_back)
                and "rolled back" not in r.result
            ):
                r.result, r.tone = r.result + ", then rolled back", "warn"
    return list(rows.values())


def _same(a: Identity, b: Identity) -> bool:
    def shape(i: Identity) -> list[tuple[str, str, str]]:
        return [
            (str(x.get("account")), str(x.get("actual") or x.get("error")), str(x.get("arn")))
            for x in i.accounts
        ]

    return a.ok == b.ok and a.event.run_id == b.event.run_id and shape(a) == shape(b)


def _fold(identities: list[Identity]) -> list[IdentityGroup]:
    groups: list[IdentityGroup] = []
    for ident in identities:
        if groups and _same(groups[-1].last, ident):
            last = groups[-1]
            groups[-1] = IdentityGroup(last.first, ident, last.count + 1)
        else:
            groups.append(IdentityGroup(ident, ident, 1))
    return groups


def outcome(report: Report) -> Outcome:
    return Outcome(_dns(report), _milestones(report), _steps(report), _fold(report.identities))
