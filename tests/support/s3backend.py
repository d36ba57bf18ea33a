"""S3 run-backend helpers: buckets on moto (with or without Object Lock), stores, runbooks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

from runbook.audit.verify import read_records
from runbook.backend.chain import SharedChain
from runbook.backend.store import S3_CONFIG, ObjectStore, S3Location
from tests.support.aws import environ_for_subprocess
from tests.support.dnsworld import FLIPS
from tests.support.runbooks import TARGET, base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]

LOCKED = "runbook-team-locked"
PLAIN = "runbook-team-plain"


def s3_client() -> Any:
    """A test's own client (moto in-process, or the server AWS_ENDPOINT_URL names)."""
    return boto3.client("s3", region_name="us-east-1", config=S3_CONFIG)


def make_bucket(name: str, *, lock: bool) -> None:
    """The bucket, made once: moto's server keeps one world per test process, so tests
    on it share buckets and keep apart by prefix (`run_prefix`)."""
    client = s3_client()
    try:
        if lock:  # Object Lock turns versioning on with it, as on AWS
            client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass


def run_prefix() -> str:
    return f"runs/{uuid.uuid4().hex[:10]}"


def store(bucket: str = LOCKED, prefix: str = "runs/test") -> ObjectStore:
    return ObjectStore(s3_client(), S3Location(bucket, prefix))


def with_backend(runbook: dict[str, Any], url: str, **backend: Any) -> dict[str, Any]:
    out = copy.deepcopy(runbook)
    out["migration"]["backend"] = {"url": url, **backend}
    return out


# Two people on two machines: their own state directories and their own roles in the target.
PEOPLE = {
    "ana": f"arn:aws:iam::{TARGET}:role/cutover-driver",
    "bo": f"arn:aws:iam::{TARGET}:role/cutover-approver",
}


def team_runbooks(
    directory: Path,
    zone: str,
    url: str,
    *,
    steps: list[dict[str, Any]] | None = None,
    **backend: Any,
) -> dict[str, Path]:
    """One runbook per person, in a directory of their own (so a state dir of their own)."""
    paths = {}
    for person, role in PEOPLE.items():
        book = with_backend(base_runbook(zone_id=zone, flip=FLIPS["simple"]), url, **backend)
        book["accounts"]["target"].update(role_arn=role, session_name=person)
        if steps is not None:
            book["steps"] = steps
        (directory / person).mkdir(parents=True, exist_ok=True)
        paths[person] = write_runbook(directory / person, book)
    return paths


def cli(person: str, path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`runbook ARGS -f PATH` as that person, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args, "-f", str(path)],
        cwd=ROOT,
        env=environ_for_subprocess(RUNBOOK_OPERATOR=person, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )


def start(person: str, path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", *args, "-f", str(path)],
        cwd=ROOT,
        env=environ_for_subprocess(RUNBOOK_OPERATOR=person),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def shared_records(bucket: str, prefix: str) -> list[dict[str, Any]]:
    return SharedChain(store(bucket, prefix)).records()


def assert_each_local_record_once(records: list[dict[str, Any]], state_dir: Path) -> None:
    """Every record this machine acknowledged is in the shared chain exactly once."""
    writer = (state_dir / "writer.id").read_text().strip()
    mine = [
        r["details"]["origin"]
        for r in records
        if (r.get("details") or {}).get("origin", {}).get("writer") == writer
    ]
    local = read_records(state_dir / "audit.jsonl")
    assert sorted(o["local_seq"] for o in mine) == [r["seq"] for r in local]
    by_seq = {r["seq"]: r["hash"] for r in local}
    assert all(by_seq[o["local_seq"]] == o["local_hash"] for o in mine)


def team_world(
    tmp_path: Path, steps: list[dict[str, Any]] | None = None, **backend: Any
) -> tuple[dict[str, Path], str, str, Any]:
    """A fresh run of two people on the locked bucket: (runbooks, prefix, zone, DNS session)."""
    from tests.support import dnsworld as w

    make_bucket(LOCKED, lock=True)
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    prefix = run_prefix()
    paths = team_runbooks(tmp_path, zone, f"s3://{LOCKED}/{prefix}", steps=steps, **backend)
    return paths, prefix, zone, session


def holds(prefix: str, person: str) -> bool:
    """Whether `person` holds the run's lease in S3 now."""
    got = store(LOCKED, prefix).get("lease.json")
    return got is not None and json.loads(got[0]).get("local_user") == person


def wait_for_holder(prefix: str, person: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not holds(prefix, person):
        assert time.monotonic() < deadline, f"{person} never took the lease"
        time.sleep(0.2)
