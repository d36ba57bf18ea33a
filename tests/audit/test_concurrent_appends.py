"""One chain from many processes: appends lock the log, re-read its tail, write, fsync."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.audit.log import AuditLog
from runbook.audit.verify import read_records, verify

ROOT = Path(__file__).resolve().parents[2]
CHILD = [sys.executable, "-m", "tests.audit.append_child"]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CHILD, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_processes_appending_at_full_speed_form_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    writers = {f"w{i}": start("append", str(path), f"w{i}", "150") for i in range(5)}
    reported: dict[str, list[tuple[int, str]]] = {}
    for name, child in writers.items():
        out, err = child.communicate(timeout=240)
        assert child.returncode == 0, err
        reported[name] = [(int(s), h) for s, h in (line.split() for line in out.splitlines())]
    report = verify(path)
    assert report.ok, report.describe()
    assert report.count == 5 * 150
    records = read_records(path)
    by_seq = {r["seq"]: r for r in records}
    assert len(by_seq) == len(records)  # no seq written twice
    for name, acknowledged in reported.items():
        assert len(acknowledged) == 150
        for seq, digest in acknowledged:
            record = by_seq[seq]
            assert record["hash"] == digest
            assert record["details"]["writer"] == name
        mine = [r["details"]["n"] for r in records if r["details"]["writer"] == name]
        assert mine == list(range(150))  # each writer's records exactly once, in its order


@pytest.mark.slow
def test_a_writer_killed_holding_the_lock_never_blocks_the_next(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path, run_id="shared", environment="rehearsal", operator={}).record("first")
    holder = start("hold", str(path))
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    blocked = start("append", str(path), "next", "3")
    with pytest.raises(subprocess.TimeoutExpired):
        blocked.wait(timeout=1.5)  # the lock is really held
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    out, err = blocked.communicate(timeout=60)
    assert blocked.returncode == 0, err
    assert [int(line.split()[0]) for line in out.splitlines()] == [2, 3, 4]
    assert verify(path).ok


def test_a_torn_line_left_by_a_dead_writer_is_cut_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    app = AuditLog(path, run_id="shared", environment="rehearsal", operator={})
    app.record("first")
    with open(path, "ab") as other:  # another process died mid-line
        other.write(b'{"seq": 2, "half')
    second = app.record("second")
    assert second["seq"] == 3
    events = [r["event"] for r in read_records(path)]
    assert events == ["first", "audit.torn_tail_discarded", "second"]
    assert verify(path).ok
    assert json.loads(path.read_bytes().splitlines()[1])["details"]["bytes"] == 16
