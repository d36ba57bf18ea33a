"""The run's lease, with real processes: one actor at a time, dead holders taken over."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.audit.verify import read_records, verify
from runbook.dns.snapshot import Snapshot
from runbook.lease import RunLease
from tests.support import dnsworld as w
from tests.support.dnsworld import dns_session

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "runbook.cli"]


def ready_to_flip(tmp_path: Path) -> tuple[Path, str]:
    """A run whose next step is the flip, its files on disk, no process holding it."""
    return w.walked_run(tmp_path, ("verify-accounts", "lower-ttl"))


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("round_no", range(5))
def test_two_flips_started_together_flip_once(
    moto_server: str, tmp_path: Path, round_no: int
) -> None:
    path, zone = ready_to_flip(tmp_path)
    first, second = (start("do", "flip-dns", "-f", str(path), "--yes") for _ in range(2))
    results = [(p.wait(120), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 1], results
    refused = next(err for code, _out, err in results if code == 1)
    assert "held by" in refused or "already done" in refused, refused
    assert "Traceback" not in "".join(out + err for _c, out, err in results)
    records = read_records(path.parent / ".runbook" / "audit.jsonl")
    intents = [r for r in records if r["event"] == "action.intent" and r["step"] == "flip-dns"]
    assert len(intents) == 1  # sent once
    assert [r["event"] for r in records].count("dns.snapshot_saved") == 1
    snapshot = Snapshot.load(path.parent / ".runbook" / "dns-snapshot.json")
    assert snapshot.record_sets[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    assert verify(path.parent / ".runbook" / "audit.jsonl").ok
    assert w.records(dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]


@pytest.mark.slow
def test_a_live_holder_refuses_a_dead_one_is_taken_over(moto_server: str, tmp_path: Path) -> None:
    path, zone = ready_to_flip(tmp_path)
    state_dir = path.parent / ".runbook"
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.core.lease_holder", str(state_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    refused = run("do", "flip-dns", "-f", str(path), "--yes")
    assert refused.returncode == 1
    assert "alice@laptop on" in refused.stderr and f"pid {holder.pid}" in refused.stderr
    assert "nothing changed" in refused.stderr
    assert w.records(dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    shown = run("lease", "show", "-f", str(path))
    assert shown.returncode == 0 and "(alive)" in shown.stdout
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    done = run("do", "flip-dns", "-f", str(path), "--yes")
    assert done.returncode == 0, done.stderr
    assert w.records(dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    taken = [r for r in read_records(state_dir / "audit.jsonl") if r["event"] == "lease.taken_over"]
    assert len(taken) == 1
    assert taken[0]["details"]["previous"]["pid"] == holder.pid
    assert RunLease(state_dir).current() is None  # released after the action


def test_lease_break_is_audited_with_its_reason(tmp_path: Path) -> None:
    path = w.runbook_file(tmp_path, "Z0000000000000000TEST", "simple")
    state_dir = path.parent / ".runbook"
    assert run("lease", "break", "-f", str(path), "--reason", "x").returncode == 2
    nothing = run("lease", "break", "-f", str(path), "--reason", "stuck since the outage")
    assert nothing.returncode == 1 and "nothing to break" in nothing.stdout
    lease = RunLease(state_dir)
    lease.acquire(local_user="bob@desk", aws_arn="arn:aws:sts::1:assumed-role/r/bob")
    broken = run("lease", "break", "-f", str(path), "--reason", "bob's laptop died")
    assert broken.returncode == 0, broken.stderr
    assert lease.current() is None
    record = [r for r in read_records(state_dir / "audit.jsonl") if r["event"] == "lease.broken"]
    assert record[0]["details"]["reason"] == "bob's laptop died"
    assert record[0]["details"]["previous"]["local_user"] == "bob@desk"
