"""`runbook lease show|break` on a team run read and break the lease in S3, where the
run keeps it, not the local file (which on another machine is empty)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from runbook.backend.remote import LEASE_OBJECT
from runbook.lease import Holder
from tests.support import dnsworld as w
from tests.support import s3backend as s3
from tests.support.dnsworld import dns_session

pytestmark = pytest.mark.slow


def test_show_and_break_act_on_the_shared_lease(moto_server: str, tmp_path: Path) -> None:
    s3.make_bucket(s3.PLAIN, lock=False)
    prefix = s3.run_prefix()
    zone = w.make_zone(dns_session(False))
    paths = s3.team_runbooks(tmp_path, zone, f"s3://{s3.PLAIN}/{prefix}")
    now = time.time()
    ana = Holder("ana", "arn:aws:sts::1:assumed-role/driver/ana", "laptop-ana", 4242,
                 "runbook do flip-dns", "t0k3n", now, now)  # fmt: skip
    store = s3.store(s3.PLAIN, prefix)
    store.create(LEASE_OBJECT, json.dumps(asdict(ana)).encode())

    shown = s3.cli("bo", paths["bo"], "lease", "show")  # Bo's machine has no local lease
    assert shown.returncode == 0, shown.stderr
    assert "held by ana (arn:aws:sts::1:assumed-role/driver/ana) on laptop-ana" in shown.stdout
    assert not (paths["bo"].parent / ".runbook").exists()  # showing opened no run

    broken = s3.cli("bo", paths["bo"], "lease", "break", "--reason", "ana's laptop died")
    assert broken.returncode == 0, broken.stderr
    assert "broke the lease of ana" in broken.stdout
    got = store.get(LEASE_OBJECT)
    assert got is not None and json.loads(got[0]) == {"released": True}
    again = s3.cli("bo", paths["bo"], "lease", "show")
    assert "nobody holds the run's lease" in again.stdout
