"""One audit record: its fields, event names, canonical form, hash and one-line gist."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
RECORD_KEYS = (
    "seq",
    "time",
    "run_id",
    "operator",
    "environment",
    "step",
    "event",
    "details",
    "prev_hash",
    "hash",
)


def canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


class EventName(enum.StrEnum):
    """Every event the tool writes; readers match on these, never on bare strings."""

    RUN_STARTED = "run.started"
    RUN_RESUMED = "run.resumed"
    IDENTITY_VERIFIED = "identity.verified"
    IDENTITY_MISMATCH = "identity.mismatch"
    GATE_STARTED = "gate.started"
    GATE_FINISHED = "gate.finished"
    GATE_WAIVED = "gate.waived"
    CHECK_RESULT = "check.result"
    ACTION_INTENT = "action.intent"
    ACTION_OUTCOME = "action.outcome"
    ACTION_RECONCILED = "action.reconciled"
    ACTION_REFUSED = "action.refused"
    ACTION_NOT_CONFIRMED = "action.not_confirmed"
    DNS_SNAPSHOT_SAVED = "dns.snapshot_saved"
    DNS_FLIP_SUPERSEDED = "dns.flip_superseded"  # a rollback began while the flip was sent
    ROLLBACK_INTENT = "rollback.intent"
    ROLLBACK_OUTCOME = "rollback.outcome"
    ROLLBACK_NOT_CONFIRMED = "rollback.not_confirmed"  # the operator declined the confirmation
    AUDIT_TORN_TAIL_DISCARDED = "audit.torn_tail_discarded"
    LEASE_TAKEN_OVER = "lease.taken_over"  # its holder was dead, or explicit with a reason
    LEASE_BROKEN = "lease.broken"  # `runbook lease break`, with a reason
    LEASE_LOST = "lease.lost"  # an acting process found its lease taken over


def names_of(value: Any) -> list[str]:
    """A list of names from a record's field that may be a list, one name, or empty."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value in (None, "") else [str(value)]


def gist(event: str, details: Mapping[str, Any]) -> str:
    """The one line that says what a record is about (timeline, report, show)."""
    d = details
    if event == EventName.CHECK_RESULT:
        return f"{d.get('check')} {d.get('status')}: {d.get('summary')}"
    if event == EventName.GATE_FINISHED:
        return "passed" if d.get("passed") is True else "NOT passed"
    if event == EventName.GATE_STARTED:
        return ", ".join(names_of(d.get("checks"))) or "(no checks)"
    if event == EventName.ACTION_INTENT:
        return str(d.get("kind") or "")
    if event.startswith("identity."):
        accounts = [a for a in d.get("accounts") or [] if isinstance(a, dict)]
        return ", ".join(
            f"{a.get('account')} {a.get('actual') or a.get('error')}" for a in accounts
        )
    if event in (EventName.RUN_STARTED, EventName.RUN_RESUMED):
        return f"{d.get('migration')} (ticket {d.get('ticket') or 'none'})"
    if event == EventName.ROLLBACK_INTENT:
        return f"{d.get('name')} {d.get('type')} back to the snapshot"
    if event == EventName.ROLLBACK_NOT_CONFIRMED:  # asked, answered no: not a failed one
        return f"declined by the operator in the {d.get('asked_in') or 'app'}; nothing sent"
    if event == EventName.ROLLBACK_OUTCOME:
        return str(d.get("summary") or ("confirmed" if d.get("confirmed") else "NOT confirmed"))
    for key in ("summary", "reason", "note", "confirm", "path"):
        if d.get(key):
            return str(d[key])
    return ""
