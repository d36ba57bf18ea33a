"""`runbook rollback` needs only the snapshot and credentials: every other file may be broken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records
from runbook.cli.main import main
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.dnsworld import dns_session

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "runbook.cli"]


def flipped(tmp_path: Path, *, dns_account: bool = False, **migration: Any) -> tuple[Path, str]:
    path, zone = w.walked_run(
        tmp_path,
        ("verify-accounts", "lower-ttl", "flip-dns"),
        dns_account=dns_account,
        migration=migration,
    )
    assert not on_source(zone, dns_account)
    return path, zone


def on_source(zone: str, dns_account: bool = False) -> bool:
    return w.records(dns_session(dns_account), zone)[0]["ResourceRecords"] == [
        {"Value": w.SOURCE_IP}
    ]


def rollback(
    path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "rollback", "-f", str(path), "--yes", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


@pytest.mark.slow
def test_corrupt_state_is_reported_not_a_reason(moto_server: str, tmp_path: Path) -> None:
    path, zone = flipped(tmp_path)
    (path.parent / ".runbook" / "state.json").write_text('{"steps": 5}')
    done = rollback(path)
    assert done.returncode == 0, done.stderr
    assert "run state is unreadable" in done.stderr and "rollback confirmed" in done.stdout
    assert on_source(zone)
    events = [r["event"] for r in read_records(path.parent / ".runbook" / "audit.jsonl")]
    assert events[-2:] == ["rollback.intent", "rollback.outcome"]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["garbage tail", "symlink"])
def test_an_audit_log_that_cannot_be_appended_to_gets_a_side_log(
    moto_server: str, tmp_path: Path, damage: str
) -> None:
    path, zone = flipped(tmp_path)
    audit = path.parent / ".runbook" / "audit.jsonl"
    if damage == "garbage tail":
        with audit.open("ab") as handle:
            handle.write(b"not json at all\n")
    else:
        other = tmp_path / "unrelated.jsonl"
        other.write_bytes(audit.read_bytes())
        audit.unlink()
        audit.symlink_to(other)
        before = other.read_bytes()
    done = rollback(path)
    assert done.returncode == 0, done.stderr
    assert on_source(zone)
    sides = sorted((path.parent / ".runbook").glob("audit-rollback-*.jsonl"))
    assert len(sides) == 1 and str(sides[0]) in done.stderr
    assert [r["event"] for r in read_records(sides[0])] == ["rollback.intent", "rollback.outcome"]
    if damage == "symlink":
        assert other.read_bytes() == before  # the link's target was neither cut nor extended


@pytest.mark.slow
def test_an_edited_snapshot_is_refused_for_the_audited_copy(
    moto_server: str, tmp_path: Path
) -> None:
    path, zone = flipped(tmp_path)
    snap = path.parent / ".runbook" / "dns-snapshot.json"
    forged = json.loads(snap.read_text())
    forged["record_sets"][0]["ResourceRecords"] = [{"Value": "192.0.2.66"}]
    snap.write_text(json.dumps(forged, indent=2))
    done = rollback(path)
    assert done.returncode == 0, done.stderr
    assert "changed after the flip" in done.stderr and "192.0.2.66" in done.stderr
    assert on_source(zone)  # the audited values, not the forged ones
    intent = [r for r in read_records(path.parent / ".runbook" / "audit.jsonl")][-2]
    assert "changed after the flip" in intent["details"]["snapshot_note"]


@pytest.mark.slow
def test_a_missing_snapshot_file_rolls_back_from_the_audit_log(
    moto_server: str, tmp_path: Path
) -> None:
    path, zone = flipped(tmp_path)
    (path.parent / ".runbook" / "dns-snapshot.json").unlink()
    done = rollback(path)
    assert done.returncode == 0, done.stderr
    assert "audit log's copy" in done.stderr and on_source(zone)


@pytest.mark.slow
@pytest.mark.parametrize("breakage", ["not TOML", "unknown key"])
def test_a_broken_runbook_still_finds_its_state_dir_and_audits(
    moto_server: str, tmp_path: Path, breakage: str
) -> None:
    path, zone = flipped(tmp_path, state_dir="run-files")
    if breakage == "not TOML":
        path.write_text(path.read_text().replace("[dns]", "[dns\n"))
    else:
        path.write_text(path.read_text().replace("[dns]", "[dns]\nbogus = 1", 1))
    done = rollback(path)
    assert done.returncode == 0, done.stderr
    assert on_source(zone)
    assert not (path.parent / ".runbook").exists()
    records = read_records(path.parent / "run-files" / "audit.jsonl")
    assert [r["event"] for r in records][-2:] == ["rollback.intent", "rollback.outcome"]
    state = json.loads((path.parent / "run-files" / "state.json").read_text())
    assert state["dns"]["rollback_confirmed"] is True
    assert "audit head: seq" in done.stderr


def test_a_full_disk_still_rolls_back_and_says_the_records_are_missing(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, zone = flipped(tmp_path)

    def no_space(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("runbook.durable.AppendOnlyFile.append", no_space)
    monkeypatch.setattr("runbook.durable._temp_beside", no_space)
    assert main(["rollback", "-f", str(path), "--yes"]) == 4
    out, err = capsys.readouterr()
    assert "rollback confirmed" in out and on_source(zone)
    assert "NOT RECORDED: rollback.intent" in err and "NOT RECORDED: state" in err
    assert "aws route53 change-resource-record-sets" in err  # built in memory
    assert "Traceback" not in out + err


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.slow
def test_the_deadline_covers_assuming_the_dns_role_on_a_hung_endpoint(
    moto_server: str, tmp_path: Path, hung_endpoint: str
) -> None:
    path, _zone = flipped(tmp_path, dns_account=True)
    text = path.read_text()
    path.write_text(text + "\n[settings]\nrollback_deadline_s = 8\n")
    env = {**os.environ, "AWS_ENDPOINT_URL": hung_endpoint}
    # Ends on its own, NOT confirmed, with the way by hand (how soon is not asserted here:
    # sts_config() bounds each try, and the run's harness timeout catches a hang).
    done = rollback(path, env=env)
    assert done.returncode == 1, done.stderr
    assert "NOT confirmed" in done.stderr and "sts assume-role" in done.stderr
    assert "Read timeout" in done.stderr  # the hung STS endpoint, named


def test_a_flip_whose_outcome_cannot_be_saved_exits_4_with_the_manual_command(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, zone = w.walked_run(tmp_path, ("verify-accounts", "lower-ttl"))
    session = dns_session(False)
    import runbook.actions
    from runbook.state import StateStore

    sent = threading.Event()
    original_apply, original_save = runbook.actions.apply_and_confirm, StateStore.save

    def apply_then_fill_the_disk(*args: Any, **kwargs: Any) -> Any:
        result = original_apply(*args, **kwargs)
        sent.set()
        return result

    def save(self: StateStore, state: Any) -> None:
        if sent.is_set():
            raise OSError(28, "No space left on device")
        original_save(self, state)

    monkeypatch.setattr(runbook.actions, "apply_and_confirm", apply_then_fill_the_disk)
    monkeypatch.setattr(StateStore, "save", save)
    assert main(["do", "flip-dns", "-f", str(path), "--yes"]) == 4
    _out, err = capsys.readouterr()
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    assert "STATE UNKNOWN" in err and "No space left on device" in err
    assert "aws route53 change-resource-record-sets" in err
    assert "internal error" not in err and "Traceback" not in err


def test_a_flip_never_snapshots_the_target_as_the_source(aws: None, tmp_path: Path) -> None:
    path, _zone = w.walked_run(
        tmp_path,
        ("verify-accounts", "lower-ttl"),
        initial=[w.simple(ip=w.TARGET_IP)],  # someone flipped by hand already
    )
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    assert engine.run_gate("flip-dns").passed
    outcome = engine.do("flip-dns", confirmed=True)
    assert not outcome.ok and "already points at the target" in outcome.summary
    assert not runtime.snapshot_path.exists()
    runtime.close()
