"""`verify` checks a log the writer wrote by its bytes alone, and still names every fault.

A line is hashed as it is stored, so a good link needs no parse: verify parses
only the lines that do not check out that way (to name the problem). These
tests write real logs with `AuditLog` and edit them as a person would.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from runbook.audit import verify as verify_module
from runbook.audit.log import AuditLog
from runbook.audit.record import GENESIS
from runbook.audit.verify import verify


def written(path: Path, steps: int = 6) -> list[bytes]:
    """A log with the awkward values a real run writes: text that needs escaping,
    details keys named like the chain's own fields, no step and a step."""
    audit = AuditLog(
        path,
        run_id='run "quoted" \\ é',
        environment="rehearsal",
        operator={"local_user": "ops@host", "aws_arn": None},
    )
    try:
        for i in range(steps):
            audit.record(
                "check.result",
                step=None if i % 2 else f"flip-{i}",
                summary=f'line {i}: "quoted", back\\slash, tab\t, 𝄞',
                nested={"hash": "f" * 64, "prev_hash": GENESIS, "seq": i, "time": "x"},
                evidence=[{"seq": i + 1}, None, 1.5e-7],
            )
    finally:
        audit.close()
    return path.read_bytes().splitlines(keepends=True)


def test_a_writers_log_verifies_without_parsing_a_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    written(path)
    refuse = mock.Mock(side_effect=AssertionError("a good line was parsed"))
    fast = getattr(verify_module, "orjson", None)  # the JSON parser verify once used
    with (
        mock.patch.object(json, "loads", refuse),
        mock.patch.object(fast, "loads", refuse) if fast is not None else nullcontext(),
    ):
        report = verify(path)
    assert report.ok, report.describe()
    assert report.count == 6
    refuse.assert_not_called()


def head_of(line: bytes) -> str:
    record: dict[str, Any] = json.loads(line)
    return str(record["hash"])


def other_hash(line: bytes) -> bytes:
    """The stored hash with its first digit changed."""
    stored = head_of(line).encode()
    changed = (b"1" if stored[:1] == b"0" else b"0") + stored[1:]
    return line.replace(b'"hash":"' + stored, b'"hash":"' + changed)


@pytest.mark.parametrize(
    ("edit", "seq", "why"),
    [
        (other_hash, 3, "hash does not match"),
        (lambda r: r.replace(b',"seq":3,', b',"seq":4,'), 4, "hash does not match"),
        (lambda r: r.replace(b',"run_id":"run', b',"run_id":"RUN'), 3, "hash does not match"),
        (lambda r: r.replace(b'"step":"flip-2"', b'"step":null'), 3, "hash does not match"),
        (lambda r: r + b" ", 3, None),  # trailing bytes: the same values, written differently
        (lambda r: r.replace(b"}", b"}x", 1), 3, "not valid JSON"),
    ],
)
def test_an_edited_line_is_named_at_its_record(
    tmp_path: Path, edit: Any, seq: int, why: str | None
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = written(path)
    lines[2] = edit(lines[2].rstrip(b"\n")) + b"\n"
    path.write_bytes(b"".join(lines))
    report = verify(path)
    if why is None:
        assert report.ok, report.describe()
        assert report.head_hash == head_of(lines[-1])
        return
    assert not report.ok
    assert (report.bad_line, report.bad_seq, report.count) == (3, seq, 2)
    assert report.reason is not None and why in report.reason


def test_deleted_swapped_and_torn_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = written(path)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    report = verify(path)
    assert (report.ok, report.bad_line, report.bad_seq) == (False, 3, 4)
    assert report.reason is not None and "deleted or reordered" in report.reason

    path.write_bytes(b"".join([lines[0], lines[2], lines[1], *lines[3:]]))
    report = verify(path)
    assert (report.ok, report.bad_line, report.bad_seq) == (False, 2, 3)

    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:40])
    report = verify(path)
    assert (report.ok, report.torn_tail, report.count) == (False, True, 5)
    assert report.head_hash == head_of(lines[-2])

    path.write_bytes(b"".join(lines))
    report = verify(path)
    assert (report.ok, report.count, report.head_hash) == (True, 6, head_of(lines[-1]))


def test_a_line_from_another_run_is_refused(tmp_path: Path) -> None:
    """A good line of another log, at the same seq: its prev_hash does not link."""
    ours, theirs = tmp_path / "ours.jsonl", tmp_path / "theirs.jsonl"
    mine = written(ours)
    other = AuditLog(theirs, run_id="other", environment="rehearsal", operator={})
    try:
        for i in range(3):
            other.record("note", note=str(i))
    finally:
        other.close()
    foreign = theirs.read_bytes().splitlines(keepends=True)
    ours.write_bytes(b"".join([*mine[:2], foreign[2], *mine[3:]]))
    report = verify(ours)
    assert (report.ok, report.bad_line, report.bad_seq) == (False, 3, 3)
    assert report.reason is not None and "prev_hash does not match" in report.reason


@pytest.mark.parametrize("chunk", [1, 97, 4096])
def test_chunks_of_any_size_give_the_same_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Lines cut across reads: the same count, head, faults and line numbers."""
    path = tmp_path / "audit.jsonl"
    lines = written(path, steps=9)
    whole = verify(path)
    monkeypatch.setattr(verify_module, "VERIFY_CHUNK", chunk)
    assert verify(path) == whole
    assert (whole.ok, whole.count, whole.head_hash) == (True, 9, head_of(lines[-1]))

    lines[6] = other_hash(lines[6])
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:50])
    report = verify(path)
    assert (report.ok, report.bad_line, report.bad_seq, report.count) == (False, 7, 7, 6)
    assert report.head_hash == head_of(lines[5])

    path.write_bytes(b"".join(lines[:6]) + lines[7][:30])
    report = verify(path)
    assert (report.ok, report.torn_tail, report.count, report.bad_line) == (False, True, 6, 7)
