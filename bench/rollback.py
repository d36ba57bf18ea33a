"""1. `runbook rollback` end to end, against a bare boto3 script and the AWS CLI.

All run as fresh processes against the same emulator (moto's server on a
loopback port, started here). `runbook rollback -f FILE --yes` pays its whole
start-up, reads the runbook and the snapshot, records its intent, UPSERTs,
waits for INSYNC, reads back and records the outcome and the state, fsynced.
The bare script (`bench._bare_rollback`) does the same three calls with boto3
and nothing around them. The AWS CLI does them in the three commands an
operator would type: `change-resource-record-sets` with the same batch, `wait
resource-record-sets-changed` on its change id, `list-resource-record-sets`.

Each is timed from spawn to its confirmation on stdout (`rollback confirmed`,
printed once the outcome and state are on disk); runbook's whole process,
which then says what a rollback does not undo (reading the whole runbook), is
reported beside. Between repetitions the record is flipped again, and the
order rotates, so none always runs on a warmer cache.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Measure,
    Options,
    Report,
    child_env,
    goal_line,
    log,
    ratio_line,
    run_child,
    until_confirmed,
)
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


def _runbook_rollback(path: Path) -> tuple[float, float]:
    return until_confirmed(
        [sys.executable, "-m", "runbook.cli", "rollback", "-f", str(path), "--yes"]
    )


def _bare_rollback(zone: str, batch_file: Path) -> float:
    argv = [sys.executable, "-m", "bench._bare_rollback", zone, w.NAME, str(batch_file)]
    return until_confirmed(argv)[0]


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


ORDERS = (("runbook", "bare", "cli"), ("bare", "cli", "runbook"), ("cli", "runbook", "bare"))


def run(options: Options) -> Report:
    reps = options.repetitions(full=7, quick=3)
    cli = _aws_cli()
    report = Report("rollback")
    times: dict[str, list[float]] = {"runbook": [], "runbook exit": [], "bare": [], "cli": []}
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
        # One untimed round of each: page cache, .pyc files, moto's first request.
        for timed_round in range(reps + 1):
            for who in ORDERS[timed_round % len(ORDERS)]:
                _reflip(session, zone)
                if who == "runbook":
                    confirmed, ended = _runbook_rollback(path)
                    elapsed = confirmed
                elif who == "bare":
                    elapsed = _bare_rollback(zone, batch_file)
                else:
                    elapsed = _cli_rollback(cli, emu.endpoint_url, zone, batch_file)
                _restored(session, zone, snapshot)
                if timed_round > 0:
                    times[who].append(elapsed)
                    if who == "runbook":
                        times["runbook exit"].append(ended)
            if timed_round > 0:
                log(
                    f"rollback {timed_round}/{reps}: runbook {times['runbook'][-1]:.2f} s "
                    f"(exit {times['runbook exit'][-1]:.2f} s), bare boto3 "
                    f"{times['bare'][-1]:.2f} s, aws cli {times['cli'][-1]:.2f} s"
                )
    ours = Measure.of("runbook rollback, to confirmed", "s", times["runbook"])
    whole = Measure.of("runbook rollback, to exit", "s", times["runbook exit"])
    bare = Measure.of("bare boto3 script", "s", times["bare"])
    aws = Measure.of("aws cli, three commands", "s", times["cli"])
    report.measures += [ours, whole, bare, aws]
    report.ratios.append(ratio_line(ours, bare, what="goal: at most 1.2"))
    report.ratios.append(ratio_line(aws, ours, what="goal: at least 3.5 (runbook faster)"))
    report.ratios.append(ratio_line(whole, bare, what="the whole process, caveats included"))
    vs_bare = ours.median / bare.median
    faster = aws.median / ours.median
    report.goals.append(
        goal_line("rollback vs bare boto3 script", vs_bare, "<= 1.2", vs_bare <= 1.2)
    )
    report.goals.append(
        goal_line("rollback faster than the aws cli", faster, ">= 3.5", faster >= 3.5)
    )
    report.notes.append(
        "aws cli = change-resource-record-sets + wait resource-record-sets-changed + "
        "list-resource-record-sets, three processes; the emulator answers INSYNC at once, "
        "so none waits on propagation"
    )
    report.notes.append(
        "runbook is timed to `rollback confirmed`, printed once the outcome and the state "
        "are fsynced; after it, the command reads the whole runbook and says what a rollback "
        "does not undo (to exit)"
    )
    return report
