"""`runbook rollback` from a shell tells [notify] too: after its outcome is recorded and
printed (never before the UPSERT), and a dead webhook is audited, not waited on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runbook.audit.verify import read_records, verify
from tests.support.aws import free_port
from tests.support.rollbackworld import flipped_world
from tests.support.webhook import receiving

ROOT = Path(__file__).resolve().parents[2]


def rollback(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rollback", "-f", str(path), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_webhook(path: Path, url: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f'\n[notify]\nwebhook_url = "{url}"\n')


def test_a_shell_rollback_is_heard_by_the_webhook(moto_server: str, tmp_path: Path) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    with receiving() as hook:
        with_webhook(world.path, hook.url)
        rolled = rollback(world.path)
        assert rolled.returncode == 0, rolled.stderr
        bodies = hook.wait_for(2)
    assert [b["event"] for b in bodies] == ["rollback.intent", "rollback.outcome"]
    assert "DNS ROLLBACK starting" in bodies[0]["text"]
    assert "DNS rollback confirmed" in bodies[1]["text"]


def test_a_dead_webhook_is_audited_after_the_rollback(moto_server: str, tmp_path: Path) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    with_webhook(world.path, f"http://127.0.0.1:{free_port()}/hook")  # nobody listens
    rolled = rollback(world.path)
    assert rolled.returncode == 0, rolled.stderr
    assert "rollback confirmed" in rolled.stdout
    log = tmp_path / ".runbook" / "audit.jsonl"
    records = read_records(log)
    failed = [r["details"]["about"] for r in records if r["event"] == "notify.failed"]
    assert failed == ["rollback.intent", "rollback.outcome"]
    outcome = next(r["seq"] for r in records if r["event"] == "rollback.outcome")
    assert all(r["seq"] > outcome for r in records if r["event"] == "notify.failed")
    assert verify(log).ok
    assert "Traceback" not in rolled.stdout + rolled.stderr
