"""`runbook do` on a watch step, as a real process against moto's server.

The criterion is `cognito.signin_success` on samples published as Cognito does
(`AWS/Cognito` `SignInSuccesses`, dimensions `UserPool` and `UserPoolClient`).
Sign-ins are healthy when the watch starts; once its first round is in the
audit log the test publishes a minute of failed sign-ins, so the rate crosses
the threshold mid-window. Exit 3, the evidence in the log; with
`on_breach = "rollback"` the records are back at the snapshot.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from runbook.audit.verify import read_records, verify
from runbook.aws.session import build_session
from runbook.cli.output import EXIT_BREACH
from runbook.dns.snapshot import Snapshot
from runbook.model import Account
from runbook.watch import WATCH_BREACHED, WATCH_ROLLBACK, WATCH_ROUND
from tests.support import dnsworld as w
from tests.support.aws import environ_for_subprocess
from tests.support.metrics import COGNITO, put_minutes, signins
from tests.support.runbooks import REGION, TARGET
from tests.support.watchworld import WATCH_STEP, flipped_run_with_watch

ROOT = Path(__file__).resolve().parents[2]


def target() -> Any:
    return build_session(Account(account_id=TARGET, region=REGION), read_only=False)


def pool_with_client() -> tuple[str, str]:
    idp = target().client("cognito-idp")
    pool = idp.create_user_pool(PoolName="app")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"]
    return str(pool), str(client["ClientId"])


def publish(pool: str, client: str, minutes: list[list[float]]) -> None:
    put_minutes(
        target().client("cloudwatch"),
        datetime.now(UTC),
        COGNITO,
        "SignInSuccesses",
        {"UserPool": pool, "UserPoolClient": client},
        minutes,
    )


def name_the_pool(path: Path, pool: str) -> None:
    book = tomllib.loads(path.read_text(encoding="utf-8"))
    book["cognito"] = {"source_user_pool_id": "us-east-1_Source1", "target_user_pool_id": pool}
    path.write_text(tomli_w.dumps(book), encoding="utf-8")


def rounds_in(audit: Path) -> int:
    if not audit.exists():
        return 0
    return sum(1 for r in read_records(audit) if r["event"] == WATCH_ROUND)


@pytest.mark.parametrize("on_breach", ["offer", "rollback"])
def test_breach_mid_window_exits_3_with_the_evidence(
    moto_server: str, tmp_path: Path, on_breach: str
) -> None:
    pool, client = pool_with_client()
    publish(pool, client, [signins(40, 0), signins(39, 1)])  # 79 of 80: healthy
    action = {"window_s": 120, "interval_s": 0.5, "on_breach": on_breach}
    checks = [{"id": "cognito.signin_success", "params": {"target_client_id": client}}]
    path, zone = flipped_run_with_watch(tmp_path, action, checks)
    name_the_pool(path, pool)
    session = w.dns_session(False)
    flipped = w.records(session, zone)
    assert flipped[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    audit = path.parent / ".runbook" / "audit.jsonl"

    process = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "do", WATCH_STEP, "-f", str(path), "--yes"],
        cwd=ROOT,
        env=environ_for_subprocess(AWS_ENDPOINT_URL=moto_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while rounds_in(audit) < 1 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, process.communicate()
        # Mid-window, a minute of failed sign-ins: 79 of 140 overall.
        publish(pool, client, [signins(0, 60)])
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == EXIT_BREACH, (out, err)
    assert "BREACH of cognito.signin_success" in err
    records = read_records(audit)
    assert verify(audit).ok
    (breach,) = [r for r in records if r["event"] == WATCH_BREACHED]
    d = breach["details"]
    assert d["criterion"] == "cognito.signin_success" and d["kind"] == "failed"
    assert d["result"]["status"] == "fail"
    assert d["result"]["evidence"]["signins"] == 140
    assert d["result"]["evidence"]["success_rate"] == pytest.approx(79 / 140)
    assert d["thresholds"]["min_success_rate"] == 0.95
    assert d["history"][0] == "pass" and d["history"][-1] == "fail"
    assert f"seq {breach['seq']}" in err
    rounds = [r for r in records if r["event"] == WATCH_ROUND]
    assert rounds[0]["details"]["statuses"] == {"cognito.signin_success": "pass"}

    now = w.records(session, zone)
    if on_breach == "offer":
        assert now == flipped  # offered, never automatic
        assert "runbook rollback -f" in err
        assert WATCH_ROLLBACK not in [r["event"] for r in records]
    else:
        snapshot = Snapshot.load(path.parent / ".runbook" / "dns-snapshot.json")
        assert [dict(rs) for rs in now] == snapshot.record_sets
        assert now[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
        why = next(r for r in records if r["event"] == WATCH_ROLLBACK)["details"]
        assert why["rolled_back"] is True and "sign-in success" in why["reason"]
        outcome = next(r for r in records if r["event"] == "rollback.outcome")["details"]
        assert outcome["confirmed"] is True
