"""`runbook do --waive`: says what it waived; production needs a reason per check and,
for the flip, the environment's name typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records
from runbook.cli.main import main
from runbook.state import StateStore
from tests.support import dnsworld as w
from tests.support.runbooks import base_runbook, with_steps, write_runbook

# Two blocking checks that fail in a fresh world: the TTL was never lowered, and the
# connection the pipelines need does not exist.
FLIP_CHECKS: list[dict[str, Any]] = [
    {"id": "dns.ttl"},
    {"id": "codestar.connections", "params": {"required": ["gh"]}},
]


def flip_world(
    tmp_path: Path, environment: str, checks: list[dict[str, Any]], *, alone: bool = True
) -> tuple[Path, Any, str]:
    """The flip gated by `checks`: alone, or after the steps before it (none done)."""
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    book["migration"]["environment"] = environment
    flip = {**book["steps"][2], "checks": checks}
    steps = [flip] if alone else [*book["steps"][:2], flip]
    return write_runbook(tmp_path, with_steps(book, steps)), session, zone


def do(path: Path, *args: str) -> int:
    return main(["do", "flip-dns", "-f", str(path), "--yes", *args])


def waived_records(path: Path) -> list[dict[str, Any]]:
    log = path.parent / ".runbook" / "audit.jsonl"
    return [r for r in read_records(log) if r["event"] == "gate.waived"] if log.exists() else []


def saved_step(path: Path) -> Any:
    return StateStore(path.parent / ".runbook" / "state.json").load().step("flip-dns")


def test_waive_prints_each_check_it_covered_with_its_status_and_reason(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, session, zone = flip_world(tmp_path, "rehearsal", FLIP_CHECKS)
    assert do(path, "--waive", "rehearsal: both known") == 0
    out = capsys.readouterr().out
    assert "gate of flip-dns waived: 2 failing blocking check(s)" in out
    assert "  dns.ttl FAIL: " in out and "  codestar.connections " in out
    assert out.count("    reason: rehearsal: both known") == 2
    (record,) = waived_records(path)
    # Who waived: the verified AWS identity as well as the local user (DESIGN rule 8).
    assert record["operator"]["aws_arn"], record["operator"]
    covered = {c["check"]: c["reason"] for c in record["details"]["waived_checks"]}
    assert covered == {
        "dns.ttl": "rehearsal: both known",
        "codestar.connections": "rehearsal: both known",
    }
    # Still readable as one line, and kept per check once the step is done.
    saved = saved_step(path)
    assert saved.status == "done" and saved.waived_checks == covered
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]


def test_production_needs_a_reason_per_failing_check(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, session, zone = flip_world(tmp_path, "production", FLIP_CHECKS)
    assert do(path, "--waive", "one reason for all", "--confirm-environment", "production") == 2
    err = capsys.readouterr().err
    assert "each failing blocking check needs its own reason" in err
    assert "--waive-check dns.ttl=REASON --waive-check codestar.connections=REASON" in err
    assert "Traceback" not in err
    assert waived_records(path) == [] and saved_step(path).waiver is None
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]

    code = do(
        path,
        "--waive-check", "dns.ttl=CAB-1: TTL lowered by hand at 02:00",
        "--waive-check", "codestar.connections=CAB-1: pipelines move next week",
        "--confirm-environment", "production",
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "reason: CAB-1: TTL lowered by hand at 02:00" in out
    assert "reason: CAB-1: pipelines move next week" in out
    (record,) = waived_records(path)
    assert record["details"]["environment_typed"] is True
    assert {c["check"]: c["reason"] for c in record["details"]["waived_checks"]} == {
        "dns.ttl": "CAB-1: TTL lowered by hand at 02:00",
        "codestar.connections": "CAB-1: pipelines move next week",
    }


def test_production_flip_waiver_needs_the_environment_typed(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One failing check: the one --waive REASON of the DESIGN contract is its reason.
    path, session, zone = flip_world(tmp_path, "production", [{"id": "dns.ttl"}])
    assert do(path, "--waive", "CAB-1: lowered by hand") == 2  # --yes does not stand in
    err = capsys.readouterr().err
    assert "needs the environment's name typed" in err and "--confirm-environment production" in err
    assert do(path, "--waive", "CAB-1: lowered by hand", "--confirm-environment", "prod") == 2
    assert "got 'prod'" in capsys.readouterr().err
    assert waived_records(path) == []
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]

    assert do(path, "--waive", "CAB-1: lowered by hand", "--confirm-environment", "production") == 0
    assert "dns.ttl FAIL" in capsys.readouterr().out
    (record,) = waived_records(path)
    assert record["details"]["waived_checks"][0]["reason"] == "CAB-1: lowered by hand"


def test_a_reason_for_a_check_that_is_not_failing_is_refused(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _session, _zone = flip_world(tmp_path, "rehearsal", [{"id": "dns.ttl"}])
    assert do(path, "--waive-check", "dms.cdc_lag=not even in this gate") == 2
    assert "not a failing blocking check of flip-dns: dms.cdc_lag" in capsys.readouterr().err
    assert waived_records(path) == []


@pytest.mark.parametrize("value", ["dns.ttl", "=reason here", "dns.ttl=  "])
def test_malformed_waive_check_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = write_runbook(tmp_path, base_runbook())
    with pytest.raises(SystemExit) as exited:
        do(path, "--waive-check", value)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "CHECK=REASON" in err or "needs at least 3 typed characters" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runbook.toml"]


def test_a_step_with_nothing_to_do_says_its_gate_was_waived_not_passed(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    drain = {"id": "drain", "title": "Wait", "phase": "cutover", "action": {"kind": "none"}}
    path = write_runbook(tmp_path, with_steps(book, [{**drain, "checks": FLIP_CHECKS}]))
    code = main(["do", "drain", "-f", str(path), "--yes", "--waive", "rehearsal: TTL later"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "gate waived; nothing to do" in out and "gate passed" not in out


def test_a_declined_do_waives_nothing(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, session, zone = flip_world(tmp_path, "rehearsal", FLIP_CHECKS)
    monkeypatch.setattr("builtins.input", lambda _prompt="": "n")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert main(["do", "flip-dns", "-f", str(path), "--waive", "rehearsal: both known"]) == 1
    assert "not confirmed; nothing changed" in capsys.readouterr().err
    # No waiver stands for an action the operator declined: the app would offer it.
    assert waived_records(path) == []
    assert saved_step(path).waived_checks == {}
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]


def test_a_do_refused_for_the_lease_waives_nothing(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _session, _zone = flip_world(tmp_path, "rehearsal", FLIP_CHECKS)
    state_dir = path.parent / ".runbook"
    state_dir.mkdir(exist_ok=True)
    # Another live process, on this host, holds the run's lease (ana's shell).
    holds = (
        "import sys, time; from pathlib import Path; from runbook.lease import RunLease; "
        "RunLease(Path(sys.argv[1])).acquire(local_user='ana', aws_arn=None); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holds, str(state_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert do(path, "--waive", "second actor test") == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "lease is held by ana" in err and "nothing changed" in err
    assert waived_records(path) == []


def test_a_blocked_do_names_the_checks_that_block_it(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _session, _zone = flip_world(tmp_path, "rehearsal", FLIP_CHECKS)
    assert do(path) == 1
    err = capsys.readouterr().err
    assert "gate not passed for flip-dns (dns.ttl fail, codestar.connections " in err
    assert "--waive REASON" in err


def test_a_do_out_of_order_is_refused_before_any_waiver(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _session, _zone = flip_world(tmp_path, "rehearsal", FLIP_CHECKS, alone=False)
    assert do(path, "--waive", "rehearsal: both known") == 1
    assert "must be done first; nothing changed" in capsys.readouterr().err
    assert waived_records(path) == []
