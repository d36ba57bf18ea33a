"""1. `runbook rollback` end to end against the AWS CLI doing the same change.

Both run as fresh processes against the same emulator (moto's server on a
loopback port, started here). `runbook rollback -f FILE --yes` pays its whole
start-up, reads the runbook and the snapshot, UPSERTs, waits for INSYNC and
reads back. The AWS CLI does the same work in the three commands an operator
would type: `change-resource-record-sets` with the same batch, `wait
resource-record-sets-changed` on its change id, `list-resource-record-sets`.
Between repetitions the record is flipped again (an UPSERT from here), and the
order of the two alternates, so neither always runs on a warmer cache.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Measure, Options, Report, child_env, log, ratio_line, run_child
from runbook.aws.session import build_session
from runbook.demo.emulator import Emulator
from runbook.dns.records import change_batch, read_record_sets, same_sets
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine
from runbook.model import Account
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.runbooks import REGION, TARGET


def _aws_cli() -> Path:
    cli = Path(sys.executable).parent / "aws"
    if not cli.exists():
        raise RuntimeError(f"the AWS CLI is not installed at {cli} (pip install awscli)")
    return cli


def _flip_world(directory: Path) -> tuple[Path, str, Any]:
    """A zone with app.example.com, a runbook, and the flip done through the engine."""
    session = build_session(Account(account_id=TARGET, region=REGION), read_only=False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    path = w.runbook_file(directory, zone, "simple")
    runtime = Runtime.open(path)
    try:
        engine = Engine(runtime)
        for step in ("verify-accounts", "lower-ttl", "flip-dns"):
            gate = engine.run_gate(step)
            if not gate.passed:
                raise RuntimeError(f"{step}: gate did not pass: {gate.outcomes}")
            outcome = engine.do(step, confirmed=True)
            if not outcome.ok:
                raise RuntimeError(f"{step}: {outcome.summary}")
    finally:
        runtime.close()
    return path, zone, session


def _reflip(session: Any, zone: str) -> None:
    client = session.client("route53")
    w.upsert(session, zone, w.simple(ttl=30, ip=w.TARGET_IP))
    now = read_record_sets(client, zone, w.NAME, "A")
    if now[0]["ResourceRecords"] != [{"Value": w.TARGET_IP}]:
        raise RuntimeError(f"re-flip did not take: {now}")


def _restored(session: Any, zone: str, snapshot: Snapshot) -> None:
    now = read_record_sets(session.client("route53"), zone, w.NAME, "A")
    if not same_sets(now, snapshot.record_sets):
        raise RuntimeError(f"not rolled back: {now}")


def _runbook_rollback(path: Path) -> float:
    begun = time.perf_counter()
    done = run_child(
        [sys.executable, "-m", "runbook.cli", "rollback", "-f", str(path), "--yes"],
        env=child_env(),
    )
    elapsed = time.perf_counter() - begun
    if "rollback confirmed" not in done.stdout:
        raise RuntimeError(f"runbook rollback did not confirm:\n{done.stdout}\n{done.stderr}")
    return elapsed


def _cli_rollback(cli: Path, endpoint: str, zone: str, batch_file: Path) -> float:
    # --endpoint-url as well as AWS_ENDPOINT_URL: this traffic goes to loopback only.
    common = ["--endpoint-url", endpoint, "--region", REGION, "--output", "json"]
    env = child_env()
    begun = time.perf_counter()
    changed = run_child(
        [
            str(cli),
            "route53",
            "change-resource-record-sets",
            "--hosted-zone-id",
            zone,
            "--change-batch",
            f"file://{batch_file}",
            *common,
        ],
        env=env,
    )
    change_id = json.loads(changed.stdout)["ChangeInfo"]["Id"]
    run_child(
        [str(cli), "route53", "wait", "resource-record-sets-changed", "--id", change_id, *common],
        env=env,
    )
    listed = run_child(
        [
            str(cli),
            "route53",
            "list-resource-record-sets",
            "--hosted-zone-id",
            zone,
            "--start-record-name",
            w.NAME,
            "--start-record-type",
            "A",
            *common,
        ],
        env=env,
    )
    elapsed = time.perf_counter() - begun
    sets = json.loads(listed.stdout)["ResourceRecordSets"]
    if not sets or sets[0]["ResourceRecords"] != [{"Value": w.SOURCE_IP}]:
        raise RuntimeError(f"aws cli read back {sets}")
    return elapsed


def run(options: Options) -> Report:
    reps = options.repetitions(full=7, quick=3)
    cli = _aws_cli()
    report = Report("rollback")
    with (
        tempfile.TemporaryDirectory(prefix="bench-rollback-") as tmp,
        Emulator(region=REGION) as emu,
    ):
        directory = Path(tmp)
        path, zone, session = _flip_world(directory)
        snapshot = Snapshot.load(directory / ".runbook" / "dns-snapshot.json")
        batch_file = directory / "cli-change-batch.json"
        batch_file.write_text(
            json.dumps(change_batch(snapshot.record_sets, "aws cli rollback")), encoding="utf-8"
        )
        ours: list[float] = []
        theirs: list[float] = []
        # One untimed round of each: page cache, .pyc files, moto's first request.
        for timed_round in range(reps + 1):
            order = ("runbook", "cli") if timed_round % 2 == 0 else ("cli", "runbook")
            for who in order:
                _reflip(session, zone)
                if who == "runbook":
                    elapsed = _runbook_rollback(path)
                else:
                    elapsed = _cli_rollback(cli, emu.endpoint_url, zone, batch_file)
                _restored(session, zone, snapshot)
                if timed_round > 0:
                    (ours if who == "runbook" else theirs).append(elapsed)
            if timed_round > 0:
                log(
                    f"rollback {timed_round}/{reps}: runbook {ours[-1]:.2f} s, "
                    f"cli {theirs[-1]:.2f} s"
                )
    a = Measure.of("runbook rollback", "s", ours)
    b = Measure.of("aws cli", "s", theirs)
    report.measures += [a, b]
    report.ratios.append(ratio_line(a, b, what="below 1: runbook is faster"))
    report.notes.append(
        "aws cli = change-resource-record-sets + wait resource-record-sets-changed + "
        "list-resource-record-sets, three processes; the emulator answers INSYNC at once, "
        "so neither side waits on propagation"
    )
    return report
