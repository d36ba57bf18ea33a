"""The shared audit chain in S3: one object per record, `audit/<seq, 12 digits>.json`.

A record is created with `If-None-Match: *`, so two writers can never take the
same `seq`: the loser re-reads the head (the keys after the one it tried) and
chains its record onto the winner's, so the log stays one chain. With an Object
Lock retention each record is write-once until its retain-until date.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runbook.audit.record import GENESIS, canonical, record_hash
from runbook.audit.verify import verify
from runbook.backend.store import Conflict, ObjectStore

FOLDER = "audit"
MAX_RACES = 200  # each lost race means another writer's record went in: progress is made


def record_name(seq: int) -> str:
    return f"{seq:012d}.json"


@dataclass(frozen=True)
class Retention:
    mode: str  # GOVERNANCE or COMPLIANCE
    days: int

    def until(self, now: datetime) -> datetime:
        return now + timedelta(days=self.days)


class SharedChain:
    """Appends to, and reads, the run's audit records in S3."""

    def __init__(self, store: ObjectStore, retention: Retention | None = None) -> None:
        self.store = store
        self.retention = retention
        self.seq = 0
        self.head_hash = GENESIS
        self._seen: dict[str, dict[str, Any]] = {}

    def refresh_head(self) -> tuple[int, str]:
        """Move the known head to the newest record (keys are zero-padded: key order is seq)."""
        start = record_name(self.seq) if self.seq else None
        last = None
        for name in self.store.names(FOLDER, start_after=start):
            last = name
        if last is not None:
            found = self.store.get(f"{FOLDER}/{last}")
            if found is not None:
                record = json.loads(found[0])
                self.seq, self.head_hash = int(record["seq"]), str(record["hash"])
        return self.seq, self.head_hash

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Chain `fields` (a record without seq, prev_hash, hash) onto the head; the record."""
        if self.seq == 0:
            self.refresh_head()
        for _race in range(MAX_RACES):
            record = json.loads(
                canonical({**fields, "seq": self.seq + 1, "prev_hash": self.head_hash})
            )
            record["hash"] = record_hash(record)
            body = canonical(record) + b"\n"
            retain = self.retention
            try:
                self.store.create(
                    f"{FOLDER}/{record_name(record['seq'])}",
                    body,
                    lock_mode=retain.mode if retain else None,
                    retain_until=retain.until(datetime.now(UTC)) if retain else None,
                )
            except Conflict:
                self.refresh_head()  # another writer took this seq: chain onto theirs
                continue
            self.seq, self.head_hash = record["seq"], record["hash"]
            return dict(record)
        raise Conflict(f"lost {MAX_RACES} races for the next audit seq in a row")

    def records(self, after: int = 0) -> list[dict[str, Any]]:
        """The records after `seq`, oldest first (the current version of each).

        Records are created once, so each is fetched once per process: a step that
        needs approvals re-reads the log at every `do` without re-reading all of it.
        """
        found = []
        start = record_name(after) if after else None
        for name in self.store.names(FOLDER, start_after=start):
            if name not in self._seen:
                got = self.store.get(f"{FOLDER}/{name}")
                if got is None:
                    continue
                self._seen[name] = json.loads(got[0])
            found.append(self._seen[name])
        return found


@dataclass
class SharedVerifyReport:
    ok: bool
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def verify_shared(store: ObjectStore) -> SharedVerifyReport:
    """The chain from S3 (each record's first version), its retention, and its versions."""
    report = SharedVerifyReport(ok=True)
    lock = store.lock_enabled()
    versions = store.versions(FOLDER)
    names = sorted(versions)
    versioned = any(v.get("VersionId") not in (None, "null") for e in versions.values() for v in e)
    bodies: list[bytes] = []
    retention: list[str] = []
    for index, name in enumerate(names, start=1):
        entries = versions[name]
        first = next((e for e in entries if not e["DeleteMarker"]), None)
        if name != record_name(index):
            report.problems.append(f"{name}: expected {record_name(index)} here (a gap)")
        if first is None:
            report.problems.append(f"{name}: only a delete marker remains")
            continue
        if len(entries) > 1:
            kinds = ", ".join("delete marker" if e["DeleteMarker"] else "version" for e in entries)
            report.problems.append(
                f"{name}: {len(entries)} versions ({kinds}): the record was overwritten or "
                "deleted after it was written; the first version is the one verified"
            )
        version_id = first.get("VersionId")
        body = store.read_version(f"{FOLDER}/{name}", version_id)
        bodies.append(body if body.endswith(b"\n") else body + b"\n")
        if lock:
            head = store.head(f"{FOLDER}/{name}", version_id)
            mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
            if mode is None or until is None:
                report.problems.append(f"{name}: no Object Lock retention")
            else:
                retention.append(f"{name}: {mode} until {until.isoformat()}")
    with tempfile.TemporaryDirectory() as tmp:
        chain_file = Path(tmp) / "audit.jsonl"
        chain_file.write_bytes(b"".join(bodies))
        chain = verify(chain_file)
    report.lines.append(f"{store.location.url}: {chain.describe()}")
    if not chain.ok:
        report.problems.insert(0, f"chain: {chain.describe()}")
    if lock:
        report.lines.append(
            f"Object Lock: {len(retention)} of {len(names)} records carry a retention"
        )
        report.lines.extend(retention)
    else:
        report.lines.append(
            "WARNING: the bucket has no Object Lock. Anyone allowed s3:PutObject or "
            "s3:DeleteObject on it can delete or rewrite records, and a log rewritten "
            "with every hash recomputed still verifies: this checks the chain only. "
            "Write the head hash down off the machine."
        )
    if not versioned:
        report.lines.append(
            "WARNING: the bucket is not versioned: a record overwritten in place cannot be "
            "detected from S3 (only through the chain and the head written down)."
        )
    report.ok = not report.problems
    return report
