"""The S3 backend's objects on moto: one chain under racing writers, no lost state update,
the lease, the snapshot created once, write-once records under Object Lock."""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from runbook.audit.record import GENESIS
from runbook.backend.chain import Retention, SharedChain, record_name, verify_shared
from runbook.backend.remote import S3Lease, S3State, publish_snapshot, pull_snapshot
from runbook.backend.store import Conflict
from runbook.lease import LeaseHeld
from runbook.state import RunState, StepStatus
from tests.support import s3backend as s3

pytestmark = pytest.mark.usefixtures("aws")


def fields(event: str) -> dict[str, object]:
    return {
        "time": datetime.now(UTC).isoformat(),
        "run_id": "r1",
        "operator": {"local_user": "t", "aws_arn": None},
        "environment": "rehearsal",
        "step": None,
        "event": event,
        "details": {},
    }


def test_create_refuses_an_existing_key_and_replace_a_stale_etag() -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    store = s3.store(s3.PLAIN)
    etag = store.create("x.json", b"1")
    with pytest.raises(Conflict):
        store.create("x.json", b"2")
    newer = store.replace("x.json", b"3", etag)
    with pytest.raises(Conflict):
        store.replace("x.json", b"4", etag)  # read before `newer`: its update would be lost
    assert store.get("x.json") == (b"3", newer)


def test_two_writers_with_a_stale_head_keep_one_chain() -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    first, second = SharedChain(s3.store(s3.PLAIN)), SharedChain(s3.store(s3.PLAIN))
    first.append(fields("a.1"))
    second.append(fields("b.1"))  # reads the head: chains onto a.1
    first.append(fields("a.2"))  # thinks seq 1 is the head: loses seq 2, retries as 3
    records = first.records()
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert [r["event"] for r in records] == ["a.1", "b.1", "a.2"]
    assert records[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(records))
    report = verify_shared(s3.store(s3.PLAIN))
    assert report.ok, report.problems


def test_state_update_from_a_stale_read_is_applied_to_the_newer_state() -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    local = RunState()
    mine, theirs = S3State(s3.store(s3.PLAIN)), S3State(s3.store(s3.PLAIN))
    mine.update(local, lambda st: setattr(st.step("a"), "status", StepStatus.DONE))
    calls: list[int] = []

    def slow_change(state: RunState) -> None:
        calls.append(1)
        if len(calls) == 1:  # another machine writes between our read and our write
            theirs.update(local, lambda st: setattr(st.step("b"), "status", StepStatus.DONE))
        state.step("c").status = StepStatus.DONE

    mine.update(local, slow_change)
    shared = mine.load(local)
    assert len(calls) == 2  # the first write lost on If-Match and was redone
    assert {k: v.status for k, v in shared.steps.items()} == {
        "a": StepStatus.DONE,
        "b": StepStatus.DONE,
        "c": StepStatus.DONE,
    }
    assert shared.run_id == local.run_id  # created from this machine's state


def test_lease_refuses_a_live_holder_by_name_and_takes_over_a_dead_one(tmp_path: Path) -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    ours = S3Lease(s3.store(s3.PLAIN), tmp_path / "a")
    mine, previous = ours.acquire(local_user="ana", aws_arn="arn:aws:sts::1:assumed-role/r/ana")
    assert previous is None
    theirs = S3Lease(s3.store(s3.PLAIN), tmp_path / "b")
    with pytest.raises(LeaseHeld, match="ana"):
        theirs.acquire(local_user="bo", aws_arn=None)
    assert ours.renew(mine)
    # The holder dies: same host, its pid gone (an exited child's pid).
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    store = s3.store(s3.PLAIN)
    body, etag = store.get("lease.json") or (b"", "")
    store.replace("lease.json", json.dumps({**json.loads(body), "pid": pid}).encode(), etag)
    taken, dead = theirs.acquire(local_user="bo", aws_arn=None)
    assert dead is not None and dead.local_user == "ana"
    assert not ours.renew(mine)  # no longer ours
    theirs.release(taken)
    assert theirs.current() is None


def test_snapshot_is_created_once_and_mirrored(tmp_path: Path) -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    first = tmp_path / "first.json"
    first.write_text('{"n": 1}')
    publish_snapshot(s3.store(s3.PLAIN), first)
    second = tmp_path / "second.json"
    second.write_text('{"n": 2}')
    publish_snapshot(s3.store(s3.PLAIN), second)  # a later flip's snapshot never replaces it
    mirror = tmp_path / "other" / "dns-snapshot.json"
    assert pull_snapshot(s3.store(s3.PLAIN), mirror)
    assert mirror.read_text() == '{"n": 1}'


def test_object_lock_refuses_deleting_a_record_and_verify_reports_retention() -> None:
    s3.make_bucket(s3.LOCKED, lock=True)
    chain = SharedChain(s3.store(s3.LOCKED), Retention("COMPLIANCE", 7))
    chain.append(fields("a.1"))
    chain.append(fields("a.2"))
    client = s3.s3_client()
    key = "runs/test/audit/" + record_name(1)
    version = client.list_object_versions(Bucket=s3.LOCKED, Prefix=key)["Versions"][0]
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=s3.LOCKED, Key=key, VersionId=version["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    head = client.head_object(Bucket=s3.LOCKED, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=6)
    report = verify_shared(s3.store(s3.LOCKED))
    assert report.ok, report.problems
    assert "2 of 2 records carry a retention" in "\n".join(report.lines)
    assert sum("COMPLIANCE until" in line for line in report.lines) == 2


def test_an_overwritten_record_is_a_second_version_and_verify_fails() -> None:
    s3.make_bucket(s3.LOCKED, lock=True)
    chain = SharedChain(s3.store(s3.LOCKED), Retention("GOVERNANCE", 1))
    chain.append(fields("a.1"))
    key = "runs/test/audit/" + record_name(1)
    # The conditional create refuses; a plain PUT makes a new version beside the locked one.
    with pytest.raises(Conflict):
        s3.store(s3.LOCKED).create("audit/" + record_name(1), b"{}")
    s3.s3_client().put_object(Bucket=s3.LOCKED, Key=key, Body=b'{"forged": true}\n')
    report = verify_shared(s3.store(s3.LOCKED))
    assert not report.ok
    assert any("2 versions" in problem for problem in report.problems), report.problems
    assert "intact: 1 record," in report.lines[0]  # the first version still verifies


def test_a_bucket_without_object_lock_gets_the_plain_warning() -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    SharedChain(s3.store(s3.PLAIN)).append(fields("a.1"))
    report = verify_shared(s3.store(s3.PLAIN))
    text = "\n".join(report.lines)
    assert "no Object Lock" in text and "checks the chain only" in text
    assert "not versioned" in text
