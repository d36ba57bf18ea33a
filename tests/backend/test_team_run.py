"""A run shared by two people on S3 (moto's server on loopback): two processes with their own
state directories and their own assumed roles drive one run, one chain, one state."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from runbook.backend.chain import verify_shared
from tests.support import dnsworld as w
from tests.support import s3backend as s3
from tests.support.dnsworld import dns_session
from tests.support.runbooks import base_runbook

pytestmark = pytest.mark.slow
# The base runbook's steps, the flip needing one approval by another principal.
FLIP_NEEDS_ONE: list[dict[str, Any]] = [
    {**step, "approvals": 1} if step["id"] == "flip-dns" else step
    for step in base_runbook()["steps"]
]


def world(tmp_path: Path, prefix: str, **backend: object) -> tuple[dict[str, Path], str]:
    s3.make_bucket(s3.LOCKED, lock=True)
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    return s3.team_runbooks(
        tmp_path, zone, f"s3://{s3.LOCKED}/{prefix}", steps=FLIP_NEEDS_ONE, **backend
    ), zone


def test_two_people_drive_one_run_and_the_flip_waits_for_the_other(
    moto_server: str, tmp_path: Path
) -> None:
    prefix = s3.run_prefix()
    paths, zone = world(tmp_path, prefix, retention_days=1, retention_mode="GOVERNANCE")
    ana, bo = paths["ana"], paths["bo"]
    assert s3.cli("ana", ana, "do", "verify-accounts", "--yes").returncode == 0
    # Bo's machine has no state of its own: the shared state says what is done.
    lowered = s3.cli("bo", bo, "do", "lower-ttl", "--yes")
    assert lowered.returncode == 0, lowered.stderr
    waiting = s3.cli("ana", ana, "do", "flip-dns", "--yes")
    assert waiting.returncode == 1 and "approval" in waiting.stderr, waiting.stderr
    own = s3.cli("ana", ana, "approve", "flip-dns", "--reason", "looks fine to me")
    assert own.returncode == 1 and "self-approval refused" in own.stderr, own.stderr
    given = s3.cli("bo", bo, "approve", "flip-dns", "--reason", "lag and counts checked")
    assert given.returncode == 0, given.stderr
    flipped = s3.cli("ana", ana, "do", "flip-dns", "--yes")
    assert flipped.returncode == 0, flipped.stdout + flipped.stderr
    assert w.records(dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]

    records = s3.shared_records(s3.LOCKED, prefix)
    for person in ("ana", "bo"):
        s3.assert_each_local_record_once(records, paths[person].parent / ".runbook")
    approvals = [r for r in records if r["event"].startswith("approval.")]
    assert [(r["event"], r["operator"]["aws_arn"].split("/")[-1]) for r in approvals] == [
        ("approval.refused", "ana"),
        ("approval.given", "bo"),
    ]
    assert "assumed-role/cutover-approver/bo" in approvals[1]["details"]["approver"]
    state = json.loads(s3.store(s3.LOCKED, prefix).get("state.json")[0])  # type: ignore[index]
    assert {k: v["status"] for k, v in state["steps"].items()} == {
        "verify-accounts": "done",
        "lower-ttl": "done",
        "flip-dns": "done",
    }
    report = verify_shared(s3.store(s3.LOCKED, prefix))
    assert report.ok, report.problems
    verified = s3.cli("bo", bo, "audit", "verify", f"s3://{s3.LOCKED}/{prefix}")
    assert verified.returncode == 0, verified.stderr
    assert f"{len(records)} of {len(records)} records carry a retention" in verified.stdout


def test_a_second_do_is_refused_naming_the_holder_and_a_killed_holder_is_taken_over(
    moto_server: str, tmp_path: Path
) -> None:
    steps = [
        {
            "id": "soak",
            "title": "Soak",
            "phase": "cutover",
            "action": {"kind": "wait", "seconds": 20},
        }
    ]
    prefix = s3.run_prefix()
    _paths, zone = world(tmp_path, prefix)
    paths = s3.team_runbooks(tmp_path, zone, f"s3://{s3.LOCKED}/{prefix}", steps=steps)
    holder = s3.start("ana", paths["ana"], "do", "soak", "--yes")
    s3.wait_for_holder(prefix, "ana")
    refused = s3.cli("bo", paths["bo"], "do", "soak", "--yes")
    assert refused.returncode == 1
    assert "held by ana" in refused.stderr, refused.stderr
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    took = s3.cli("bo", paths["bo"], "do", "soak", "--yes")
    assert "Traceback" not in took.stderr, took.stderr
    records = s3.shared_records(s3.LOCKED, prefix)
    taken = [r for r in records if r["event"] == "lease.taken_over"]
    assert len(taken) == 1, [r["event"] for r in records]
    assert taken[0]["details"]["previous"]["local_user"] == "ana"
    assert taken[0]["operator"]["local_user"] == "bo"
