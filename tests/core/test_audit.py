"""Audit log: chain, durability under SIGKILL, and every kind of tampering detected."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook.audit.log import AuditLog, AuditWriteError
from runbook.audit.record import GENESIS, record_hash
from runbook.audit.verify import read_records, verify
from runbook.cli.main import main


def write_log(path: Path, count: int = 6) -> AuditLog:
    log = AuditLog(path, run_id="r1", environment="staging", operator={"local_user": "me"})
    for n in range(count):
        log.record("step.event", step=f"s{n}", n=n)
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_records_chain_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = write_log(path)
    records = read_records(path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["prev_hash"] == GENESIS
    for prev, cur in itertools.pairwise(records):
        assert cur["prev_hash"] == prev["hash"]
        assert record_hash(cur) == cur["hash"]
    assert set(records[0]) >= {"seq", "time", "run_id", "operator", "environment", "step"}
    report = verify(path)
    assert report.ok and report.count == 6 and report.head_hash == log.head_hash


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3).close()
    log = AuditLog(path, run_id="r2", environment="staging", operator={})
    record = log.record("again")
    assert record["seq"] == 4
    assert verify(path).ok


def test_secrets_redacted_before_hashing(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r", environment="staging", operator={})
    log.record("x", password="hunter2-canary", note="key AKIAABCDEFGHIJKLMNOP here")
    text = path.read_text()
    assert "hunter2-canary" not in text and "AKIAABCDEFGHIJKLMNOP" not in text
    assert verify(path).ok


def tamper(path: Path, how: str) -> None:
    rows = lines(path)
    if how == "flip":
        raw = bytearray(rows[2])
        at = raw.index(b'"n":2') + 4
        raw[at] = ord("7")
        rows[2] = bytes(raw)
    elif how == "delete":
        del rows[2]
    elif how == "swap":
        rows[2], rows[3] = rows[3], rows[2]
    elif how == "insert":
        forged = json.loads(rows[2])
        forged["details"] = {"forged": True}
        forged["hash"] = record_hash(forged)
        rows.insert(3, (json.dumps(forged) + "\n").encode())
    elif how == "duplicate":
        rows.insert(3, rows[2])
    elif how == "truncate":
        rows[-1] = rows[-1][: len(rows[-1]) // 2]
    elif how == "rehash":
        # Alter and recompute the record's own hash: the next link still breaks.
        forged = json.loads(rows[2])
        forged["details"] = {"n": 99}
        forged["hash"] = record_hash(forged)
        rows[2] = (json.dumps(forged) + "\n").encode()
    path.write_bytes(b"".join(rows))


@pytest.mark.parametrize(
    ("how", "bad_seq", "words"),
    [
        ("flip", 3, "altered"),
        ("delete", 4, "deleted"),
        ("swap", 4, "deleted or reordered"),
        ("insert", 3, "duplicated or reordered"),
        ("duplicate", 3, "duplicated or reordered"),
        ("truncate", 6, "incomplete"),
        ("rehash", 4, "prev_hash"),
    ],
)
def test_tampering_is_detected_and_named(
    tmp_path: Path, how: str, bad_seq: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path).close()
    assert main(["audit", "verify", str(path)]) == 0
    tamper(path, how)
    report = verify(path)
    assert not report.ok
    assert report.bad_seq == bad_seq, report
    assert words in (report.reason or "")
    assert report.torn_tail is (how == "truncate")
    assert main(["audit", "verify", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"seq {bad_seq}" in err
    assert ("torn tail" in err) is (how == "truncate")


def test_torn_tail_is_discarded_and_recorded_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3).close()
    with open(path, "ab") as handle:
        handle.write(b'{"seq":4,"time":"2026')
    log = AuditLog(path, run_id="r", environment="staging", operator={})
    records = read_records(path)
    assert records[-1]["event"] == "audit.torn_tail_discarded"
    assert records[-1]["seq"] == 4
    assert log.seq == 4
    assert verify(path).ok


def test_fsync_failure_stops_and_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    log = write_log(path, 1)
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(AuditWriteError):
        log.record("doomed")
    with pytest.raises(AuditWriteError, match="earlier failure"):
        log.record("after")
    assert len(calls) == 1  # never retried


def test_show_prints_a_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2).close()
    assert main(["audit", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "step.event" in out and "s1" in out and "intact" in out
    assert main(["audit", "show", str(path), "--json"]) == 0
    assert [r["seq"] for r in json.loads(capsys.readouterr().out)] == [1, 2]


@pytest.mark.slow
def test_sigkill_during_writes_loses_no_acknowledged_record(tmp_path: Path) -> None:
    rng = random.Random(20261121)
    root = Path(__file__).resolve().parents[2]
    for round_no in range(12):
        path = tmp_path / f"audit-{round_no}.jsonl"
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.core.audit_writer", str(path)],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        first = child.stdout.readline()  # started writing
        assert first.strip() == "1"
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        acknowledged = [int(x) for x in [first, *child.stdout.read().split()] if x.strip()]
        child.wait()
        assert acknowledged, "the child wrote nothing"
        report = verify(path)
        present = {r["seq"] for r in read_records(path)}
        assert set(acknowledged) <= present, f"round {round_no}: acknowledged records lost"
        # Either intact, or only the never-acknowledged last line is torn.
        assert report.ok or (report.torn_tail and report.count >= max(acknowledged))
        # Reopening recovers and the chain then verifies.
        AuditLog(path, run_id="again", environment="staging", operator={}).close()
        assert verify(path).ok
