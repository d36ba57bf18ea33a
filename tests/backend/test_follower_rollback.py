"""A rollback from another person's machine: the snapshot is the driver's, the way to the
zone is this machine's own (its runbook's DNS account and role), by key or by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import dnsworld as w
from tests.support import s3backend as s3

pytestmark = pytest.mark.slow


def test_the_command_by_hand_assumes_the_followers_own_role(
    moto_server: str, tmp_path: Path
) -> None:
    paths, _prefix, zone, session = s3.team_world(tmp_path)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        done = s3.cli("ana", paths["ana"], "do", step, "--yes")
        assert done.returncode == 0, done.stderr
    synced = s3.cli("bo", paths["bo"], "sync")  # bo's machine mirrors the shared snapshot
    assert synced.returncode == 0, synced.stderr
    asked = s3.cli("bo", paths["bo"], "rollback")  # no terminal to ask: nothing sent
    assert asked.returncode == 1
    assert "role/cutover-approver" in asked.stderr, asked.stderr
    assert "role/cutover-driver" not in asked.stderr
    assert "could not be checked" not in asked.stderr  # the shared chain vouches for it
    rolled = s3.cli("bo", paths["bo"], "rollback", "--yes")
    assert rolled.returncode == 0, rolled.stderr
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
