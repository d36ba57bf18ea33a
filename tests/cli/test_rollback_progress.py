"""`runbook rollback` against a dead endpoint: it says what it is doing, and ctrl+c
leaves the operator the manual command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import dnsworld as w
from tests.support.aws import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_attempts_are_printed_and_sigint_prints_the_manual_command(
    moto_server: str, tmp_path: Path
) -> None:
    path, _zone = w.walked_run(tmp_path, ("verify-accounts", "lower-ttl", "flip-dns"))
    path.write_text(path.read_text() + "\n[settings]\nrollback_deadline_s = 120\n")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    child = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "rollback", "-f", str(path), "--yes"],
        cwd=ROOT,
        env={**os.environ, "AWS_ENDPOINT_URL": dead},
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a bound on the wait, not an assertion on time
        line = child.stderr.readline()
        lines.append(line)
        if line.startswith("attempt 2:"):
            break
    # Each attempt is reported with its cause, one line each, as it happens.
    attempts = [line for line in lines if line.startswith("attempt ")]
    assert attempts and "retrying after" in attempts[0] and "127.0.0.1" in attempts[0]
    child.send_signal(signal.SIGINT)
    _out, rest = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "interrupted: DNS may not be back on the source" in rest
    assert "aws route53 change-resource-record-sets" in rest
    assert "Traceback" not in "".join(lines) + rest
