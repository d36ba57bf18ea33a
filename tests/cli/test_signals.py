"""SIGTERM or SIGHUP during a long action: the audit head is still printed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook.audit.verify import read_records
from tests.support.runbooks import base_runbook, with_steps, write_runbook

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_the_head_is_printed_when_stopped_by_a_signal(
    moto_server: str, tmp_path: Path, stop: signal.Signals
) -> None:
    book = base_runbook()
    book = with_steps(
        book,
        [
            {
                "id": "long-wait",
                "title": "A long wait",
                "phase": "cutover",
                "action": {"kind": "wait", "seconds": 600},
            }
        ],
    )
    path = write_runbook(tmp_path, book)
    child = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "do", "long-wait", "-f", str(path), "--yes"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    audit = path.parent / ".runbook" / "audit.jsonl"
    deadline = time.monotonic() + 60
    while not (audit.exists() and "action.intent" in audit.read_text()):
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.1)
    child.send_signal(stop)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 128 + stop, err
    last = read_records(audit)[-1]
    assert f"audit head: seq {last['seq']} hash {last['hash']}" in err
    assert "Traceback" not in err
