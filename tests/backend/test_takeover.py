"""Taking a live lease over: only the holding the operator saw, and the displaced action
pauses (real processes; the lease in the state directory and in S3 on moto)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runbook.acting import take_over
from runbook.audit.verify import read_records
from runbook.backend.remote import S3Lease
from runbook.lease import Holder, LeaseChanged, RunLease
from runbook.runtime import Runtime
from tests.support import s3backend as s3
from tests.support.runbooks import base_runbook, write_runbook

SOAK = {
    "id": "soak",
    "title": "Soak",
    "phase": "cutover",
    "action": {"kind": "wait", "seconds": 12},
}


def held(lease: RunLease, user: str) -> Holder:
    mine, _dead = lease.acquire(local_user=user, aws_arn=None)
    return mine


@pytest.mark.parametrize("where", ["local", "s3"])
def test_only_the_holding_seen_is_taken_over(aws: None, tmp_path: Path, where: str) -> None:
    if where == "s3":
        s3.make_bucket(s3.PLAIN, lock=False)
        lease: RunLease = S3Lease(s3.store(s3.PLAIN, s3.run_prefix()), tmp_path)
    else:
        lease = RunLease(tmp_path)
    first = held(lease, "ana")
    lease.release(first)
    second = held(lease, "cy")  # what the lease holds now: not what the operator saw
    with pytest.raises(LeaseChanged, match="held by cy"):
        lease.break_(expected_token=first.token)
    assert lease.current() == second
    assert lease.break_(expected_token=second.token) == second
    assert lease.current() is None
    with pytest.raises(LeaseChanged, match="nobody holds it"):
        lease.break_(expected_token=second.token)


def test_a_takeover_needs_a_reason_and_is_audited(aws: None, tmp_path: Path) -> None:
    runtime = Runtime.open(write_runbook(tmp_path, base_runbook()))
    try:
        lease = RunLease(runtime.state_dir)
        other = held(lease, "ana")
        with pytest.raises(ValueError, match="say why"):
            take_over(runtime, other, "  ")
        assert lease.current() == other
        assert take_over(runtime, other, "ana's laptop froze") == other
        records = [r for r in read_records(runtime.audit.path) if r["event"] == "lease.taken_over"]
        assert len(records) == 1
        assert records[-1]["details"]["reason"] == "ana's laptop froze"
        assert records[-1]["details"]["explicit"] is True
        assert records[-1]["details"]["previous"]["local_user"] == "ana"
        assert lease.current() is None
    finally:
        runtime.close()


@pytest.mark.slow
def test_lease_break_from_another_machine_pauses_the_wait_which_resumes_there(
    moto_server: str, tmp_path: Path
) -> None:
    paths, prefix, _zone, _session = s3.team_world(tmp_path, [SOAK])
    driver = s3.start("ana", paths["ana"], "do", "soak", "--yes")
    try:
        s3.wait_for_holder(prefix, "ana")
        broken = s3.cli("bo", paths["bo"], "lease", "break", "--reason", "ana's laptop froze")
        assert broken.returncode == 0, broken.stderr
        _out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 1, err
    assert "paused: wait interrupted with" in err
    assert "another operator took the run's lease over" in err
    # Bo does the soak: the wait resumes on his machine, until the same deadline.
    resumed = s3.start("bo", paths["bo"], "do", "soak", "--yes")
    try:
        assert resumed.stderr is not None
        seen = next((ln for ln in iter(resumed.stderr.readline, "") if "% resumed: " in ln), "")
    finally:
        resumed.kill()
        resumed.wait(30)
    assert seen.strip().endswith("s left"), "bo's wait did not resume"
    events = [
        (r["event"], r["operator"]["local_user"]) for r in s3.shared_records(s3.LOCKED, prefix)
    ]
    assert ("lease.broken", "bo") in events
    broken_at = events.index(("lease.broken", "bo"))
    assert (
        broken_at
        < events.index(("lease.lost", "ana"))
        < events.index(("action.interrupted", "ana"))
    )
    assert events.index(("action.interrupted", "ana")) < events.index(("action.intent", "bo"))


@pytest.mark.slow
def test_a_second_shells_do_leaves_a_running_action_to_its_process(
    moto_server: str, tmp_path: Path
) -> None:
    book = base_runbook()
    book["steps"] = [{**SOAK, "action": {"kind": "wait", "seconds": 60}}, book["steps"][0]]
    path = write_runbook(tmp_path, book)
    driver = s3.start("ana", path, "do", "soak", "--yes")
    try:
        lease = RunLease(tmp_path / ".runbook")
        deadline = time.monotonic() + 60
        while (held_now := lease.current()) is None or held_now.local_user != "ana":
            assert time.monotonic() < deadline, "ana never took the lease"
            time.sleep(0.2)
        second = s3.cli("ana", path, "do", "verify-accounts", "--yes")
        state = json.loads((tmp_path / ".runbook" / "state.json").read_text())
    finally:
        driver.kill()
        driver.wait(30)
    assert "soak: being done by ana" in second.stdout, second.stdout + second.stderr
    assert "offered again" not in second.stdout
    assert state["steps"]["soak"]["status"] == "running"
