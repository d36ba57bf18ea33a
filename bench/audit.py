"""5. The audit log: records appended a second (each fsynced), records verified a second.

Appending is `AuditLog.record` as every action uses it: the file lock, the tail re-read,
redaction, the hash chain, `os.write` and `os.fsync` before it returns. Verify
is `runbook.audit.verify` (what `runbook audit verify` runs) on a log of
100,000 records. That log is written by `AuditLog` itself with `os.fsync`
replaced by a no-op while it is built (100,000 fsyncs would only measure the
disk again); the records and their chain are exactly what a real run writes.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import Measure, Options, Report, goal_line, log, ratio_line
from runbook.audit.log import AuditLog
from runbook.audit.verify import verify

VERIFY_RECORDS = 100_000
QUICK_VERIFY_RECORDS = 30_000  # --quick: writing the log is most of this benchmark's time


def _details(i: int) -> dict[str, Any]:
    """A record the size and shape of a check result, the most common event."""
    return {
        "check": "dns.ttl",
        "title": "The record's TTL was lowered long enough ago",
        "blocking": True,
        "status": "pass",
        "summary": f"TTL 30 s since 2024-05-01T10:{i % 60:02d}:00Z (>= 300 s ago)",
        "details": ["app.example.com A TTL 30", "previous TTL 300"],
        "evidence": {"zone_id": "Z0000000000000000TEST", "ttl": 30, "previous_ttl": 300},
        "duration_s": 0.042,
    }


def _open(path: Path) -> AuditLog:
    return AuditLog(
        path,
        run_id="bench-run",
        environment="rehearsal",
        operator={"local_user": "bench@localhost", "aws_arn": None},
    )


@contextmanager
def _no_fsync() -> Iterator[None]:
    with mock.patch("os.fsync", lambda _fd: None):
        yield


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding `path` (fsync on tmpfs costs nothing)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def run(options: Options) -> Report:
    reps = options.repetitions(full=5, quick=3)
    appends = 500 if options.quick else 2_000
    records = QUICK_VERIFY_RECORDS if options.quick else VERIFY_RECORDS
    report = Report("audit")
    appended: list[float] = []
    verified: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        directory = Path(tmp)
        for rep in range(reps):
            path = directory / f"append-{rep}.jsonl"
            audit = _open(path)
            try:
                audit.record("bench.warm")  # file created, directory fsynced: not timed
                begun = time.perf_counter()
                for i in range(appends):
                    audit.record("check.result", step="flip-dns", **_details(i))
                appended.append(appends / (time.perf_counter() - begun))
            finally:
                audit.close()
            path.unlink()
        log(f"audit append: {appends} records x {reps}")

        big = directory / f"audit-{records}.jsonl"
        begun = time.perf_counter()
        with _no_fsync():
            audit = _open(big)
            try:
                for i in range(records):
                    audit.record("check.result", step="flip-dns", **_details(i))
            finally:
                audit.close()
        log(f"audit: wrote {records:,} records in {time.perf_counter() - begun:.1f} s")
        size_mib = big.stat().st_size / 2**20
        for rep in range(reps):
            begun = time.perf_counter()
            result = verify(big)
            elapsed = time.perf_counter() - begun
            if not (result.ok and result.count == records):
                raise RuntimeError(f"verify: {result.describe()}")
            verified.append(records / elapsed)
            log(f"audit verify {rep + 1}/{reps}: {elapsed:.2f} s")
        fs = _filesystem(directory.resolve())
    a = Measure.of(f"verify ({records:,}-record log)", "/s", verified)
    b = Measure.of("append, fsync each", "/s", appended)
    report.measures += [b, a]
    report.ratios.append(
        ratio_line(a, b, paired=False, what="records verified per record appended")
    )
    report.goals.append(
        goal_line("audit verify, records/s", a.median, "> 100,000", a.median > 100_000)
    )
    report.notes.append(
        f"appends: {appends} records per repetition, on {fs} "
        f"({os.environ.get('TMPDIR') or '/tmp'}); "
        f"verify log: {size_mib:.1f} MiB, written with fsync disabled"
    )
    if fs in ("tmpfs", "ramfs"):
        report.notes.append("fsync on tmpfs costs nothing: set TMPDIR to a directory on disk")
    return report
