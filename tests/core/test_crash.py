"""Crash points around the flip: on restart, state and DNS reconcile; rollback restores."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.audit.verify import read_records, verify
from runbook.engine import Engine
from runbook.runtime import Runtime
from runbook.state import StepStatus
from tests.support import dnsworld as w
from tests.support.dnsworld import dns_session, walk

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "applied"),
    [
        ("before_intent", False),
        ("after_intent", False),
        ("after_send", True),
        ("before_outcome", True),
    ],
)
def test_crash_point_reconciles_and_rolls_back(
    moto_server: str, tmp_path: Path, point: str, applied: bool
) -> None:
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    path = w.runbook_file(tmp_path, zone, "simple")
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    before_flip = w.records(session, zone)
    runtime.close()

    child = subprocess.run(
        [sys.executable, "-m", "tests.core.crash_child", str(path), point],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    value = w.records(session, zone)[0]["ResourceRecords"][0]["Value"]
    assert value == (w.TARGET_IP if applied else w.SOURCE_IP)

    runtime = Runtime.open(path)
    engine = Engine(runtime)
    messages = engine.reconcile()
    intent_written = point != "before_intent"
    assert bool(messages) is intent_written
    if applied:
        assert engine.status("flip-dns") == StepStatus.DONE
    else:
        assert engine.can_act("flip-dns") == (True, "gate passed")  # offered again
    assert runtime.state.in_flight is None
    if not applied:
        walk(engine, "flip-dns")  # offered again, and works
    events = [r["event"] for r in read_records(runtime.audit.path)]
    if intent_written:
        assert "action.reconciled" in events
    runtime.close()

    done = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rollback", "-f", str(path), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert w.records(session, zone) == before_flip
    assert verify(tmp_path / ".runbook" / "audit.jsonl").ok
