"""Verifying the chain and reading records for display."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.audit.record import GENESIS, RECORD_KEYS, record_hash
from runbook.durable import TAIL_CHUNK


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int
    head_hash: str | None
    bad_seq: int | None = None
    bad_line: int | None = None
    reason: str | None = None
    torn_tail: bool = False

    def describe(self) -> str:
        if self.ok:
            return f"intact: {self.count} records, head hash {self.head_hash}"
        where = f"seq {self.bad_seq}" if self.bad_seq is not None else f"line {self.bad_line}"
        kind = "torn tail" if self.torn_tail else "broken"
        return f"{kind} at {where} (line {self.bad_line}): {self.reason}"


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line number, bytes, complete) for each line; only the last can be incomplete."""
    data = path.read_bytes()
    parts = data.split(b"\n")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if last and part == b"":
            return
        yield index + 1, part, not last


def verify(path: Path) -> VerifyReport:
    """Walk the chain; name the first bad record and why."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    for number, raw, complete in iter_lines(path):

        def broken(
            reason: str,
            seq: int | None = expected_seq,
            line: int = number,
            head: str = prev,
            good: int = count,
        ) -> VerifyReport:
            return VerifyReport(False, good, head, seq, line, reason)

        if not complete:
            return VerifyReport(
                ok=False,
                count=count,
                head_hash=prev if count else None,
                bad_seq=expected_seq,
                bad_line=number,
                reason=(
                    f"the last line is incomplete ({len(raw)} bytes, no newline): a crash "
                    f"during a write, not tampering; the {count} records before it verify"
                ),
                torn_tail=True,
            )

        try:
            record = json.loads(raw)
        except ValueError:
            return broken("not valid JSON: the record was altered")
        if not isinstance(record, dict) or set(record) != set(RECORD_KEYS):
            return broken("fields added or removed: the record was altered")
        seq = record.get("seq")
        if not isinstance(seq, int):
            return broken("seq is not a number: the record was altered")
        if record_hash(record) != record.get("hash"):
            return broken("hash does not match the contents: the record was altered", seq)
        if seq < expected_seq:
            return broken(
                f"seq {seq} where {expected_seq} was expected: a duplicated or reordered record",
                seq,
            )
        if seq > expected_seq:
            return broken(
                f"seq {seq} where {expected_seq} was expected: "
                f"{seq - expected_seq} record(s) deleted or reordered",
                seq,
            )
        if record.get("prev_hash") != prev:
            return broken(
                "prev_hash does not match the previous record's hash: "
                "a record was inserted, deleted or swapped",
                seq,
            )
        prev = record["hash"]
        expected_seq += 1
        count += 1
    return VerifyReport(ok=True, count=count, head_hash=prev if count else GENESIS)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete, parseable record (for display; `verify` says if they are trustworthy)."""
    records = []
    for _number, raw, complete in iter_lines(path):
        if not complete:
            break
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def records_backward(path: Path) -> Iterator[dict[str, Any]]:
    """Readable records from the last to the first, read from the end in chunks."""
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(TAIL_CHUNK, position)
            position -= step
            handle.seek(position)
            lines = (handle.read(step) + rest).split(b"\n")
            rest = lines.pop(0)  # may be the end of a line that starts earlier
            for raw in reversed(lines):
                record = _parsed(raw)
                if record is not None:
                    yield record
        record = _parsed(rest)
        if record is not None:
            yield record


def records_after(path: Path, seq: int) -> list[dict[str, Any]]:
    """The records after `seq`, read from the end of the log (it may be long)."""
    found: list[dict[str, Any]] = []
    for record in records_backward(path):
        if not isinstance(record.get("seq"), int) or record["seq"] <= seq:
            break
        found.append(record)
    return found[::-1]


def last_of(path: Path, event: str) -> dict[str, Any] | None:
    """The newest record of `event`, read from the end of the log."""
    return next((r for r in records_backward(path) if r.get("event") == event), None)


def _parsed(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
