"""Following a shared run: each look brings what changed, and the local mirror of the shared
chain stays the chain S3 holds (moto in-process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbook.audit.verify import read_records, verify
from runbook.backend.chain import SharedChain
from runbook.backend.follow import RunFollower
from runbook.backend.s3 import S3Backend
from runbook.state import RunState
from tests.support import s3backend as s3


def record(n: int, who: str) -> dict[str, object]:
    """A record's fields as the shared log's writers send them (the chain adds the rest)."""
    return {
        "time": f"2026-12-02T05:00:{n:02d}+00:00",
        "run_id": "run-1",
        "operator": {"local_user": who},
        "environment": "rehearsal",
        "step": None,
        "event": "note",
        "details": {"n": n},
    }


def shared_run(tmp_path: Path) -> tuple[S3Backend, str]:
    """A new run on S3 (a plain bucket) and its prefix, backed by this machine's `tmp_path`."""
    s3.make_bucket(s3.PLAIN, lock=False)
    prefix = s3.run_prefix()
    return S3Backend(s3.s3_client(), f"s3://{s3.PLAIN}/{prefix}", tmp_path), prefix


def test_each_look_brings_what_others_wrote_and_the_mirror_is_the_chain(
    aws: None, tmp_path: Path
) -> None:
    backend, prefix = shared_run(tmp_path)
    other = SharedChain(s3.store(s3.PLAIN, prefix))
    for n in range(3):
        other.append(record(n, "ana"))
    follower = RunFollower(backend, tmp_path)

    first = follower.poll()
    assert first.first and first.state_changed is False and first.holder is None
    assert [r["seq"] for r in first.new_records] == [1, 2, 3]
    assert follower.poll().new_records == [] and not follower.poll().first

    other.append(record(3, "ana"))
    s3.store(s3.PLAIN, prefix).create("state.json", b"{}")
    later = follower.poll()
    assert [r["seq"] for r in later.new_records] == [4] and later.state_changed
    assert verify(follower.mirror).ok
    assert [r["seq"] for r in read_records(follower.mirror)] == [1, 2, 3, 4]

    # A mirror that no longer continues the chain (edited, or another run's) is rebuilt.
    lines = follower.mirror.read_bytes().splitlines(keepends=True)
    follower.mirror.write_bytes(b"".join(lines[:2]))
    again = RunFollower(backend, tmp_path)
    again.poll()
    assert [r["seq"] for r in read_records(again.mirror)] == [1, 2, 3, 4]
    follower.mirror.write_bytes(lines[0].replace(b"ana", b"eve"))  # a forged first record
    forged = RunFollower(backend, tmp_path)
    forged.poll()
    assert verify(forged.mirror).ok
    assert [r["operator"]["local_user"] for r in read_records(forged.mirror)] == ["ana"] * 4


def test_the_snapshot_is_pulled_when_its_record_arrives_after_the_state_says_flipped(
    aws: None, tmp_path: Path
) -> None:
    backend, prefix = shared_run(tmp_path)
    store = s3.store(s3.PLAIN, prefix)
    follower = RunFollower(backend, tmp_path)
    follower.poll()
    # The flipping machine's state change lands first; its records are pushed after.
    store.create("state.json", b'{"dns": {"flipped_at": "2026-12-02T06:00:00Z"}}')
    assert follower.poll().state_changed and not follower.snapshot.exists()
    store.create("dns-snapshot.json", b'{"zone_id": "Z1"}')
    SharedChain(store).append({**record(0, "ana"), "event": "dns.snapshot_saved"})
    assert not follower.poll().state_changed
    assert follower.snapshot.read_bytes() == b'{"zone_id": "Z1"}'


def test_a_local_rollback_older_than_the_shared_flip_is_not_carried_up(
    aws: None, tmp_path: Path
) -> None:
    backend, prefix = shared_run(tmp_path)
    t0 = datetime(2026, 12, 2, 6, 48, 20, tzinfo=UTC)
    local = RunState(run_id="r1")
    local.dns.rolled_back_at, local.dns.rollback_confirmed = t0, True  # bo's, from a shell
    flipped = RunState(run_id="r1")
    flipped.dns.flipped_at = t0 + timedelta(seconds=11)  # ana flipped again since
    s3.store(s3.PLAIN, prefix).create("state.json", flipped.model_dump_json().encode())
    assert backend.state.merge_rollback(local) is False
    shared = backend.state.load(RunState())
    assert shared.dns.flipped_at == t0 + timedelta(seconds=11) and shared.dns.rolled_back_at is None
    local.dns.rolled_back_at = t0 + timedelta(seconds=30)  # a rollback after that flip
    assert backend.state.merge_rollback(local) is True
    shared = backend.state.load(RunState())
    assert shared.dns.flipped_at is None and shared.dns.rolled_back_at == local.dns.rolled_back_at
