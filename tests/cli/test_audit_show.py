"""`runbook audit show` prints every readable record, and exits 1 when the chain is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.audit.log import AuditLog
from runbook.cli.main import main


def test_show_of_a_broken_log_prints_the_timeline_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r", environment="rehearsal", operator={})
    for n in range(3):
        log.record("test.event", summary=f"record {n}")
    log.close()
    assert main(["audit", "show", str(path)]) == 0
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], lines[1].replace(b"record 1", b"record 9"), lines[2]]))
    capsys.readouterr()
    assert main(["audit", "show", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "record 9" in out and "record 2" in out  # the rest still renders
    assert "broken at seq 2" in err
    assert main(["audit", "show", str(path), "--json"]) == 1


def test_control_characters_cannot_forge_the_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, run_id="r", environment="rehearsal", operator={})
    forged = "ok\r\x1b[2K    99 2026-12-01 00:00:00 flip-dns  rollback.outcome  confirmed\x07"
    log.record("gate.waived", step="flip-dns", reason=forged)
    log.close()
    assert main(["audit", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "\\r\\x1b[2K" in out  # shown, escaped, on its own record's line
    assert len([line for line in out.splitlines() if "rollback.outcome" in line]) == 1
    assert main(["audit", "report", str(path), "--out", str(tmp_path / "r")]) == 0
    for report in (tmp_path / "r.html", tmp_path / "r.md"):
        text = report.read_text()
        assert "\x1b" not in text and "\x07" not in text, report
