"""Verifying the chain and reading records for display.

Every record the writer stores is one line of `canonical` JSON, so the bytes a
record's hash covers are its own line without the `"hash"` member. Verify
checks that first, on the bytes alone (`_as_stored`): the line's tail names its
`prev_hash` and `seq` in the writer's fixed key order, and SHA-256 of the line
without its hash member must give the stored hash. That needs no parse and no
re-serialising, which is what made verify slow. A line that does not pass that
way (tampered, hand-edited, or written in another spelling) is decided by the
standard library's parse and `record_hash` exactly as before, which also names
the problem. The canonical form and the chain are unchanged, and old logs
verify as they did. One difference, by design: a line whose stored hash covers
its own bytes in a non-canonical spelling verifies, where re-serialising would
have refused it; making one takes computing SHA-256, as does forging any record
of an unkeyed chain, which is why the head is written down off the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.audit.record import GENESIS, RECORD_KEYS, record_hash
from runbook.durable import TAIL_CHUNK
from runbook.formatting import plural

_HASH_MEMBER = b',"hash":"'
_PREV_MEMBER = b',"prev_hash":"'
_SEQ_MEMBER = b',"seq":'
_QUOTE = ord('"')  # after a member's 64 hex digits
VERIFY_CHUNK = 1 << 20  # bytes read at a time; a chunk ends on a line boundary


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
            return f"intact: {plural(self.count, 'record')}, head hash {self.head_hash}"
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
    """Walk the chain; name the first bad record and why.

    Read in chunks of whole lines: a long log never sits in memory whole, and each
    chunk's lines are walked while they are in the processor's cache.
    """
    prev = GENESIS
    count = 0  # records verified; the next is line and seq count + 1
    torn = b""  # after the last newline: b"" for a log that ends with one
    with open(path, "rb") as handle:
        while chunk := handle.read(VERIFY_CHUNK):
            lines = (torn + chunk).split(b"\n")
            torn = lines.pop()
            walked, prev, report = _walk(lines, count, prev)
            if report is not None:
                return report
            count += walked
    if torn:
        return VerifyReport(
            ok=False,
            count=count,
            head_hash=prev if count else None,
            bad_seq=count + 1,
            bad_line=count + 1,
            reason=(
                f"the last line is incomplete ({len(torn)} bytes, no newline): a crash "
                f"during a write, not tampering; before it, {plural(count, 'record')} verified"
            ),
            torn_tail=True,
        )
    return VerifyReport(ok=True, count=count, head_hash=prev if count else GENESIS)


def _walk(lines: Sequence[bytes], before: int, prev: str) -> tuple[int, str, VerifyReport | None]:
    """Verify complete lines that follow `before` good records: (walked, head, failure)."""
    index = 0
    while index < len(lines):
        index, prev = _as_stored(lines, index, prev, before)
        if index == len(lines):
            break
        number = before + index + 1
        problem, prev_or_head = _link(lines[index], number, prev)
        if problem is not None:
            reason, seq = problem
            return index, prev, VerifyReport(False, before + index, prev, seq, number, reason)
        prev = prev_or_head
        index += 1
    return index, prev, None


def _as_stored(lines: Sequence[bytes], start: int, prev: str, before: int) -> tuple[int, str]:
    """Walk good links from `lines[start]` by their bytes: (where it stopped, the head).

    `lines[i]` is seq `before + i + 1`. A line passes when its `prev_hash` and `seq`
    link it and the SHA-256 of the line without its hash member is the stored hash.
    The writer sorts keys, so the last `prev_hash` and `seq` members are the record's
    own (only strings follow them, which hold no unescaped quote) and its hash member
    is the last before `prev_hash` (a `"hash"` key in the details comes earlier).
    Stopping is never a verdict: `_link` then decides that line, and names the
    problem, as it always did.
    """
    sha256 = hashlib.sha256
    head = prev.encode()
    prev_at, seq_at, hash_at = len(_PREV_MEMBER), len(_SEQ_MEMBER), len(_HASH_MEMBER)
    for index in range(start, len(lines)):
        raw = lines[index]
        at = raw.rfind(_PREV_MEMBER)
        if at < 0 or not raw.startswith(head, at + prev_at) or raw[at + prev_at + 64] != _QUOTE:
            return index, head.decode()
        seq = raw.rfind(_SEQ_MEMBER, at)
        expected = b"%d," % (before + index + 1)
        if seq < 0 or not raw.startswith(expected, seq + seq_at):
            return index, head.decode()
        member = raw.rfind(_HASH_MEMBER, 0, at)
        if member < 0 or raw[member + hash_at + 64] != _QUOTE:
            return index, head.decode()
        digest = sha256(raw[:member])
        digest.update(raw[member + hash_at + 65 :])
        stored = digest.hexdigest().encode()
        if not raw.startswith(stored, member + hash_at):
            return index, head.decode()
        head = stored
    return len(lines), head.decode()


Problem = tuple[str, int | None]  # why, and the seq it names


def _link(raw: bytes, expected_seq: int, prev: str) -> tuple[Problem | None, str]:
    """Check one line as the next link of the chain: (the problem or None, its hash)."""
    try:
        record = json.loads(raw)
    except ValueError:
        return ("not valid JSON: the record was altered", expected_seq), prev
    if not isinstance(record, dict) or set(record) != set(RECORD_KEYS):
        return ("fields added or removed: the record was altered", expected_seq), prev
    seq = record.get("seq")
    if not isinstance(seq, int):
        return ("seq is not a number: the record was altered", expected_seq), prev
    if record_hash(record) != record.get("hash"):
        return ("hash does not match the contents: the record was altered", seq), prev
    if seq < expected_seq:
        return (
            f"seq {seq} where {expected_seq} was expected: a duplicated or reordered record",
            seq,
        ), prev
    if seq > expected_seq:
        return (
            f"seq {seq} where {expected_seq} was expected: "
            f"{seq - expected_seq} record(s) deleted or reordered",
            seq,
        ), prev
    if record.get("prev_hash") != prev:
        return (
            "prev_hash does not match the previous record's hash: "
            "a record was inserted, deleted or swapped",
            seq,
        ), prev
    return None, str(record["hash"])


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
    for raw in _lines_backward(path):
        record = _parsed(raw)
        if record is not None:
            yield record


def _lines_backward(path: Path) -> Iterator[bytes]:
    """The file's lines from the last to the first, read from the end in chunks."""
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(TAIL_CHUNK, position)
            position -= step
            handle.seek(position)
            lines = (handle.read(step) + rest).split(b"\n")
            rest = lines.pop(0)  # may be the end of a line that starts earlier
            yield from reversed(lines)
        yield rest


def records_after(path: Path, seq: int) -> list[dict[str, Any]]:
    """The records after `seq`, read from the end of the log (it may be long)."""
    found: list[dict[str, Any]] = []
    for record in records_backward(path):
        if not isinstance(record.get("seq"), int) or record["seq"] <= seq:
            break
        found.append(record)
    return found[::-1]


def last_of(path: Path, event: str) -> dict[str, Any] | None:
    """The newest record of `event`, read from the end of the log.

    Only lines that hold the event's name are parsed (the rollback looks for the
    flip's snapshot behind every record since, on the key's path). The writer never
    escapes an event name, so a line without it is not one of its records.
    """
    name = event.encode()
    for raw in _lines_backward(path):
        if name in raw:
            record = _parsed(raw)
            if record is not None and record.get("event") == event:
                return record
    return None


def _parsed(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw) if raw.strip() else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
