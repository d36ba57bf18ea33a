"""Rollback when things are failing: injected faults, a drained retry quota, a fresh process."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError

from runbook.dns.rollback import manual_command
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.dnsworld import dns_session, walk
from tests.support.faults import FAULTS, Injector


def flipped_runtime(tmp_path: Path, kind: str = "simple") -> tuple[Runtime, str]:
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, *w.INITIAL[kind])
    runtime = Runtime.open(w.runbook_file(tmp_path, zone, kind))
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        walk(engine, step)
    return runtime, zone


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("failures", [1, 4])
def test_rollback_converges_through_faults(
    aws: None, tmp_path: Path, fault: str, failures: int
) -> None:
    runtime, zone = flipped_runtime(tmp_path)
    injector = Injector(fault, failures)
    runtime.sessions.session("target").events.register("before-send.route53", injector)
    result = runtime.rollback(deadline_s=30, sleep=lambda _s: None)
    assert result.confirmed, result
    assert injector.injected == failures
    assert result.attempts > failures
    assert w.records(dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    events = [json.loads(line)["event"] for line in (runtime.state_dir / "audit.jsonl").open()]
    assert events[-2:] == ["rollback.intent", "rollback.outcome"]


def test_rollback_not_confirmed_prints_manual_command(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime, _zone = flipped_runtime(tmp_path)
    runtime.sessions.session("target").events.register(
        "before-send.route53",
        Injector("throttling", -1),  # fails forever
    )
    result = runtime.rollback(deadline_s=1.0)
    assert not result.confirmed
    assert "NOT confirmed" in result.message
    argv = shlex.split(result.manual_command)
    assert argv[:3] == ["aws", "route53", "change-resource-record-sets"]
    changes = json.loads(argv[argv.index("--change-batch") + 1])["Changes"]
    assert [c["Action"] for c in changes] == ["UPSERT"]
    assert changes[0]["ResourceRecordSet"]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    outcome = json.loads((runtime.state_dir / "audit.jsonl").read_text().splitlines()[-1])
    assert outcome["event"] == "rollback.outcome"
    assert outcome["details"]["confirmed"] is False
    assert outcome["details"]["manual_command"] == result.manual_command


def test_rollback_works_after_other_clients_drained_the_retry_quota(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, zone = flipped_runtime(tmp_path)
    shared = runtime.sessions.client("target", "route53")
    throttle_all = Injector("throttling", -1)
    shared.meta.events.register("before-send.route53", throttle_all)
    with monkeypatch.context() as patch:
        patch.setattr(botocore.endpoint.time, "sleep", lambda _s: None)
        for _ in range(50):
            with pytest.raises(ClientError):
                shared.get_hosted_zone(Id=zone)
    assert throttle_all.injected >= 50
    # The rollback's own client is new, and its own loop survives more throttling.
    runtime.sessions.session("target").events.register(
        "before-send.route53", Injector("throttling", 3)
    )
    result = runtime.rollback(deadline_s=30, sleep=lambda _s: None)
    assert result.confirmed, result


def test_rollback_from_a_fresh_process_with_files_on_disk(moto_server: str, tmp_path: Path) -> None:
    runtime, zone = flipped_runtime(tmp_path, "weighted")
    runbook_path = runtime.loaded.path
    runtime.close()
    done = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rollback", "-f", str(runbook_path), "--yes"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "rollback confirmed" in done.stdout
    assert "audit head: seq" in done.stderr
    weights = {rs["SetIdentifier"]: rs["Weight"] for rs in w.records(dns_session(False), zone)}
    assert weights == {"source": 100, "target": 0}


@pytest.mark.slow
def test_the_printed_manual_command_works_as_printed_for_a_dns_account_by_role(
    moto_server: str, tmp_path: Path
) -> None:
    session = dns_session(True)
    zone = w.make_zone(session)
    w.upsert(session, zone, *w.INITIAL["simple"])
    runtime = Runtime.open(w.runbook_file(tmp_path, zone, "simple", dns_account=True))
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        walk(engine, step)
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    command = manual_command(Snapshot.load(runtime.snapshot_path))
    runtime.close()
    assert "sts assume-role" in command and "--external-id runbook-dns" in command
    # The operator's shell: their own base keys, the AWS CLI, nothing of ours.
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": w.REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    restored = w.records(session, zone)
    assert restored[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]


def test_a_read_back_that_differs_is_never_confirmed(aws: None, tmp_path: Path) -> None:
    """The emulator always reads back what was sent; real Route 53 may not (yet)."""
    runtime, _zone = flipped_runtime(tmp_path)

    def stale(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for rs in parsed.get("ResourceRecordSets", []):
            rs["ResourceRecords"] = [{"Value": w.TARGET_IP}]  # still the flipped value

    runtime.sessions.session("target").events.register(
        "after-call.route53.ListResourceRecordSets", stale
    )
    result = runtime.rollback(deadline_s=2.0, sleep=lambda _s: None)
    assert not result.confirmed
    assert any("read-back differs" in e for e in result.errors)
