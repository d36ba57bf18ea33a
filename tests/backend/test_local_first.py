"""Local first in an emergency: with S3 unreachable, `runbook rollback` works from the
local mirror and `runbook sync` later pushes its records into the shared chain, late."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.audit.verify import read_records
from runbook.backend import S3Backend
from runbook.backend.chain import verify_shared
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support import s3backend as s3
from tests.support.aws import free_port
from tests.support.dnsworld import dns_session

pytestmark = pytest.mark.slow


def test_rollback_with_s3_unreachable_is_pushed_late_by_sync(
    moto_server: str, tmp_path: Path
) -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    prefix = s3.run_prefix()
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    paths = s3.team_runbooks(tmp_path, zone, f"s3://{s3.PLAIN}/{prefix}")
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        done = s3.cli("ana", paths["ana"], "do", step, "--yes")
        assert done.returncode == 0, done.stderr
    # Bo never flipped: his machine gets the snapshot from the run backend.
    pulled = s3.cli("bo", paths["bo"], "sync")
    assert pulled.returncode == 0 and "pulled the DNS snapshot" in pulled.stdout, pulled.stderr
    assert "mirrored the shared run state" in pulled.stdout
    shared_run = json.loads(s3.store(s3.PLAIN, prefix).get("state.json")[0])["run_id"]  # type: ignore[index]

    closed = {"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}"}  # nobody listens
    rolled = s3.cli("bo", paths["bo"], "rollback", "--yes", **closed)
    assert rolled.returncode == 0, rolled.stderr
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    local = read_records(paths["bo"].parent / ".runbook" / "audit.jsonl")
    assert {r["run_id"] for r in local} == {shared_run}  # the run's id, from the mirror
    still_down = s3.cli("bo", paths["bo"], "sync", **closed)
    assert still_down.returncode == 1 and "did not answer" in still_down.stderr

    synced = s3.cli("bo", paths["bo"], "sync")
    assert synced.returncode == 0, synced.stderr
    assert "pushed" in synced.stdout
    records = s3.shared_records(s3.PLAIN, prefix)
    late = [r for r in records if "late" in r["details"]]
    assert {"rollback.intent", "rollback.outcome"} <= {r["event"] for r in late}
    assert all("not pushed when written" in r["details"]["late"]["reason"] for r in late)
    for person in ("ana", "bo"):
        s3.assert_each_local_record_once(records, paths[person].parent / ".runbook")
    assert verify_shared(s3.store(s3.PLAIN, prefix)).ok
    state = json.loads(s3.store(s3.PLAIN, prefix).get("state.json")[0])  # type: ignore[index]
    assert state["dns"]["rolled_back_at"] is not None
    again = s3.cli("bo", paths["bo"], "sync")
    assert again.returncode == 0 and "nothing was waiting" in again.stdout


def test_the_app_path_rolls_back_with_s3_unreachable_and_catches_up_later(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    prefix = s3.run_prefix()
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    path = s3.team_runbooks(tmp_path, zone, f"s3://{s3.PLAIN}/{prefix}")["ana"]
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        w.walk(engine, step)
    runtime.close()

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    runtime = Runtime.open(path)  # the app started during the outage: opens on its mirror
    result = runtime.rollback()
    assert result.confirmed
    backend = runtime.backend
    assert isinstance(backend, S3Backend) and backend.sink is not None
    assert backend.sink.degraded is not None  # said why, for the late records
    pending = [r["event"] for r in backend.sink.pending()]
    assert "rollback.outcome" in pending
    runtime.close()

    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    runtime = Runtime.open(path)  # S3 answers again: the sink pushes what waited
    assert runtime.backend is not None and runtime.backend.flush(30)
    runtime.close()
    records = s3.shared_records(s3.PLAIN, prefix)
    outcome = next(r for r in records if r["event"] == "rollback.outcome")
    late = outcome["details"]["late"]  # when it was written, and why it arrived late
    assert late["written_at"] == outcome["time"]
    assert late["reason"].startswith("S3 did not"), late  # as the process that wrote it saw
    s3.assert_each_local_record_once(records, path.parent / ".runbook")
