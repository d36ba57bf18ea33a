"""A log rewritten with every hash recomputed, or emptied, is caught on open and by --head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.audit.log import AuditCorruptError
from runbook.audit.record import GENESIS, canonical, record_hash
from runbook.audit.verify import read_records, verify
from runbook.cli.main import main
from runbook.runtime import Runtime
from tests.support import dnsworld as w


def a_run(tmp_path: Path) -> tuple[Path, Path]:
    path, _zone = w.walked_run(tmp_path, ("verify-accounts",))
    return path, path.parent / ".runbook" / "audit.jsonl"


def rewrite_consistently(audit: Path, forge: str) -> None:
    """What a careful forger does: change a record, then recompute the whole chain."""
    prev = GENESIS
    lines = []
    for record in read_records(audit):
        if record["event"] == "action.outcome":
            record["details"]["summary"] = forge
        record["prev_hash"] = prev
        record["hash"] = record_hash(record)
        prev = record["hash"]
        lines.append(canonical(record) + b"\n")
    audit.write_bytes(b"".join(lines))


def test_a_consistently_rewritten_log_verifies_but_is_caught(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, audit = a_run(tmp_path)
    head = json.loads(audit.read_bytes().splitlines()[-1])
    rewrite_consistently(audit, "nothing happened here")
    assert verify(audit).ok  # the chain alone cannot tell
    with pytest.raises(AuditCorruptError, match="rewritten"):
        Runtime.open(path)
    assert main(["audit", "verify", str(audit), "--head", f"{head['seq']}:{head['hash']}"]) == 1
    assert "rewritten" in capsys.readouterr().err
    assert main(["check", "-f", str(path)]) == 2  # nothing runs on it


def test_an_emptied_log_does_not_silently_restart(aws: None, tmp_path: Path) -> None:
    path, audit = a_run(tmp_path)
    head = json.loads(audit.read_bytes().splitlines()[-1])
    audit.write_bytes(b"")
    with pytest.raises(AuditCorruptError, match="records are missing"):
        Runtime.open(path)
    assert audit.read_bytes() == b""  # refused before writing anything
    assert main(["audit", "verify", str(audit), "--head", f"{head['seq']}:{head['hash']}"]) == 1


def test_the_head_written_down_verifies_an_intact_log(aws: None, tmp_path: Path) -> None:
    path, audit = a_run(tmp_path)
    head = json.loads(audit.read_bytes().splitlines()[-1])
    assert main(["audit", "verify", str(audit), "--head", f"{head['seq']}:{head['hash']}"]) == 0
    Runtime.open(path).close()  # and the run opens
