"""A flip and a rollback at once, AWS slowed down: the end state is always the snapshot."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.log import AuditLog
from runbook.audit.verify import read_records, records_after, verify
from runbook.dns import flip as flip_module
from runbook.dns.records import same_sets, strip_set
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.dnsworld import dns_session
from tests.support.slowproxy import slow_proxy

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "runbook.cli"]


def test_records_after_reads_the_tail_only_as_far_as_needed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r", environment="rehearsal", operator={})
    for n in range(500):
        log.record("test.event", n=n, padding="x" * 40)
    assert [r["seq"] for r in records_after(path, 497)] == [498, 499, 500]
    assert records_after(path, 500) == []
    assert len(records_after(path, 0)) == 500


@pytest.mark.slow
@pytest.mark.parametrize("round_no", range(4))
def test_flip_and_rollback_together_end_on_the_snapshot(
    moto_server: str, tmp_path: Path, round_no: int
) -> None:
    path, zone = w.walked_run(tmp_path, ("verify-accounts", "lower-ttl"))
    state_dir = path.parent / ".runbook"
    with slow_proxy(moto_server, delay_s=0.25) as slow:
        env = {**os.environ, "AWS_ENDPOINT_URL": slow}
        flip = subprocess.Popen(
            [*CLI, "do", "flip-dns", "-f", str(path), "--yes"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not (state_dir / "dns-snapshot.json").exists():  # the flip is in flight
            assert time.monotonic() < deadline and flip.poll() is None
            time.sleep(0.02)
        time.sleep(random.Random(round_no).uniform(0.0, 1.0))
        rollback = subprocess.run(
            [*CLI, "rollback", "-f", str(path), "--yes"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        flip_out, flip_err = flip.communicate(timeout=180)
    snapshot = Snapshot.load(state_dir / "dns-snapshot.json")
    live = [strip_set(rs) for rs in w.records(dns_session(False), zone)]
    assert same_sets(live, snapshot.record_sets), (flip_out, flip_err, rollback.stdout)
    assert rollback.returncode == 0 and "rollback confirmed" in rollback.stdout
    records = read_records(state_dir / "audit.jsonl")
    seq_of = {r["event"]: r["seq"] for r in records}  # the last of each
    if "done: flipped" in flip_out:
        # Only true if the flip was over before the rollback began.
        assert seq_of["action.outcome"] < seq_of["rollback.intent"], records
    else:
        assert "not flipped: a rollback began" in flip_out + flip_err
        assert "dns.flip_superseded" in seq_of
    assert "Traceback" not in flip_err + rollback.stderr
    assert verify(state_dir / "audit.jsonl").ok


@pytest.mark.slow
def test_two_rollbacks_at_once_both_converge_and_both_are_audited(
    moto_server: str, tmp_path: Path
) -> None:
    path, zone = w.walked_run(tmp_path, ("verify-accounts", "lower-ttl", "flip-dns"))
    with slow_proxy(moto_server, delay_s=0.2) as slow:
        env = {**os.environ, "AWS_ENDPOINT_URL": slow}
        both = [
            subprocess.Popen(
                [*CLI, "rollback", "-f", str(path), "--yes"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(180), *p.communicate()) for p in both]
    assert [code for code, _o, _e in results] == [0, 0], results
    assert all("rollback confirmed" in out for _c, out, _e in results)
    assert w.records(dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    events = [r["event"] for r in read_records(path.parent / ".runbook" / "audit.jsonl")]
    assert events.count("rollback.intent") == 2 and events.count("rollback.outcome") == 2
    assert verify(path.parent / ".runbook" / "audit.jsonl").ok


def test_a_rollback_landing_between_insync_and_read_back_wins(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window the race test above hits only sometimes, made certain: another shell's
    # rollback lands after the flip is INSYNC and before the flip reads its records back.
    path, zone = w.walked_run(tmp_path, ("verify-accounts", "lower-ttl"))
    real_wait = flip_module.wait_insync

    def wait_then_another_shell_rolls_back(*args: Any, **kwargs: Any) -> str:
        status = real_wait(*args, **kwargs)
        if not rolled:
            other = Runtime.open(path)
            rolled.append(other.rollback().confirmed)
            other.close()
        return status

    rolled: list[bool] = []
    monkeypatch.setattr(flip_module, "wait_insync", wait_then_another_shell_rolls_back)
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    assert engine.run_gate("flip-dns").passed
    outcome = engine.do("flip-dns", confirmed=True)
    runtime.close()
    assert rolled == [True]
    assert not outcome.ok and "not flipped: a rollback began" in outcome.summary
    state_dir = path.parent / ".runbook"
    snapshot = Snapshot.load(state_dir / "dns-snapshot.json")
    live = [strip_set(rs) for rs in w.records(dns_session(False), zone)]
    assert same_sets(live, snapshot.record_sets)
    assert "dns.flip_superseded" in {r["event"] for r in read_records(state_dir / "audit.jsonl")}
