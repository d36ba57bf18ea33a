"""Counts read as English: one record is "1 record", not "1 records". Real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runbook.audit.log import AuditLog

ROOT = Path(__file__).resolve().parents[2]


def verify(tmp_path: Path, records: int) -> subprocess.CompletedProcess[str]:
    """`runbook audit verify` of a log of `records` records, as a process."""
    log = AuditLog(tmp_path / "audit.jsonl", run_id="r", environment="rehearsal", operator={})
    for n in range(records):
        log.record("test.event", summary=f"record {n}")
    log.close()
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "audit", "verify", str(log.path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_audit_verify_of_one_record_says_record(tmp_path: Path) -> None:
    done = verify(tmp_path, 1)
    assert done.returncode == 0, done.stderr
    assert "intact: 1 record, head hash" in done.stdout, done.stdout


def test_audit_verify_of_two_records_says_records(tmp_path: Path) -> None:
    done = verify(tmp_path, 2)
    assert done.returncode == 0, done.stderr
    assert "intact: 2 records, head hash" in done.stdout, done.stdout
