"""The seeded demo world, end to end, headless: `runbook check` and the engine against it.

Each world is seeded into its own emulator (a few seconds); the checks run
exactly as `runbook check` and the engine run them. Time is compressed with
the world's `time_scale`: the lag feeder stamps its samples on the demo clock,
and the walk-through gives the same clock to the checks and to the engine, so
minutes of CDC draining pass in seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook.cli.main import main
from runbook.demo.emulator import port_open
from runbook.demo.fixes import FIXES, HINTS, bound_fixes
from runbook.demo.model import SOURCE_ACCOUNT, TARGET_ACCOUNT, DemoWorld
from runbook.demo.world import Demo
from runbook.engine import Engine
from runbook.runtime import Runtime

BUNDLED = Path(__file__).resolve().parents[2] / "runbook.toml"
FAST = 120.0  # demo seconds per real second in the walk-through


def listing(root: Path, skip: Path) -> set[str]:
    """Every path under root except those under skip."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if skip not in (p, *p.parents)}


def check_json(path: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", "-f", str(path), "--json", *extra])
    return code, json.loads(out.getvalue())


def statuses(outcomes: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(o["step"], o["check"]): o["status"] for o in outcomes}


@contextlib.contextmanager
def no_writes_outside(tmp_path: Path) -> Iterator[Path]:
    """A directory for the demo, and proof that nothing beside it was written."""
    directory = tmp_path / "demo"
    parent = tmp_path.parent
    before = listing(parent, tmp_path)
    home_aws = Path.home() / ".aws"
    home_before = listing(home_aws, home_aws / "-") if home_aws.exists() else None
    yield directory
    assert listing(parent, tmp_path) == before
    assert set(os.listdir(tmp_path)) == {"demo"}
    home_after = listing(home_aws, home_aws / "-") if home_aws.exists() else None
    assert home_after == home_before


# --- the world as `runbook check` sees it -------------------------------------------------

START_PATTERN = {
    ("verify-accounts", "identity.accounts"): "pass",
    ("reconcile-drift", "cfn.drift"): "skipped",
    ("stage-target", "cfn.stacks"): "pass",
    ("connect-networks", "vpc.cidr_overlap"): "pass",
    ("connect-networks", "dms.network_path"): "pass",
    ("replicate-database", "dms.task"): "warn",  # no DescribeTableStatistics in moto
    ("replicate-database", "dms.source_replica"): "pass",
    ("replicate-database", "dms.cdc_lag"): "fail",
    ("replicate-objects", "s3.replication"): "pass",
    ("migrate-users-lazily", "cognito.migration_trigger"): "pass",
    ("migrate-users-lazily", "cognito.migration_progress"): "warn",
    ("migrate-users-lazily", "cognito.canary_signin"): "skipped",  # moto runs no trigger
    ("repoint-cicd", "codestar.connections"): "skipped",
    ("repoint-cicd", "refs.source_account"): "fail",
    ("repoint-cicd", "alarms.topics"): "fail",
    ("validate-target", "synthetic.http"): "pass",
    ("source-read-only", "dms.cdc_lag"): "fail",
    ("drain-cdc", "source.writes_stopped"): "fail",
    ("flip-dns", "identity.accounts"): "pass",
    ("flip-dns", "dns.ttl"): "fail",
    ("flip-dns", "source.writes_stopped"): "fail",
    ("watch-after-flip", "cognito.signin_success"): "warn",  # nobody signs in to the emulator
    ("watch-after-flip", "cloudwatch.alarms"): "pass",
    ("watch-after-flip", "lambda.trigger_health"): "warn",  # never invoked: moto runs no trigger
    ("watch-after-flip", "synthetic.http"): "fail",  # the source answers until the flip
    ("verify-traffic", "synthetic.http"): "fail",  # the source answers until the flip
    ("force-migrate-users", "cognito.migration_progress"): "pass",
    ("force-migrate-users", "cognito.migration_window"): "fail",  # not flipped yet
    ("final-validation", "dms.validation"): "skipped",  # no DescribeTableStatistics in moto
}


@pytest.mark.long
def test_seeded_world_gives_the_expected_gates_at_start(tmp_path: Path) -> None:
    with no_writes_outside(tmp_path) as directory, Demo(directory) as demo:
        world = demo.world
        path = demo.runbook_path
        assert path.parent == directory
        assert main(["validate", "-f", str(path)]) == 0

        # Same steps and phases as the bundled playbook.
        ours = tomllib.loads(path.read_text(encoding="utf-8"))
        bundled = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))
        assert [(s["id"], s["phase"]) for s in ours["steps"]] == [
            (s["id"], s["phase"]) for s in bundled["steps"]
        ]
        assert ours["migration"]["environment"] == "rehearsal"
        assert ours["dns"]["account"] == "target" and "dns" not in ours["accounts"]
        assert ours["dns"]["flip"] == {"mode": "simple", "values": [world.target_ip]}
        assert ours["accounts"]["source"]["account_id"] == SOURCE_ACCOUNT
        assert ours["accounts"]["target"]["account_id"] == TARGET_ACCOUNT
        assert world.users_total == 300 and world.users_migrated == 120

        code, outcomes = check_json(path)
        assert code == 1
        assert statuses(outcomes) == START_PATTERN, json.dumps(outcomes, indent=1)[:4000]
        assert {c for (_, c), status in START_PATTERN.items() if status != "pass"} <= set(HINTS)
        by_check = {(o["step"], o["check"]): o for o in outcomes}
        for key in (
            ("reconcile-drift", "cfn.drift"),
            ("repoint-cicd", "codestar.connections"),
            ("migrate-users-lazily", "cognito.canary_signin"),
        ):
            assert "emulator" in by_check[key]["summary"]
        assert "emulator" in by_check[("final-validation", "dms.validation")]["summary"]
        window = by_check[("force-migrate-users", "cognito.migration_window")]
        assert "DNS has not been flipped" in window["summary"]
        refs = by_check[("repoint-cicd", "refs.source_account")]
        assert world.stale_function in refs["summary"]
        assert [r["resource"] for r in refs["evidence"]["allowed"]] == [world.trigger_function]
        alarms = by_check[("repoint-cicd", "alarms.topics")]
        assert world.alarm_name in alarms["summary"]
        assert {b["topic"] for b in alarms["evidence"]["bad_actions"]} == {world.source_topic_arn}
        assert by_check[("flip-dns", "dns.ttl")]["evidence"]["ttl"] == 300
        for outcome in outcomes:
            for result in outcome["evidence"].get("results", []):
                assert result["url"].startswith("http://127.0.0.1:")

        # The two leftovers clear with their fixes, and only they change.
        descriptions = [FIXES[c](world) for c in ("refs.source_account", "alarms.topics")]
        assert all(d and "\n" not in d for d in descriptions)
        code, outcomes = check_json(path, "--step", "repoint-cicd")
        assert statuses(outcomes) == {
            ("repoint-cicd", "codestar.connections"): "skipped",
            ("repoint-cicd", "refs.source_account"): "pass",
            ("repoint-cicd", "alarms.topics"): "pass",
        }
        assert code == 1  # skipped is not a pass: the demo waives it
        assert "nothing changed" in FIXES["alarms.topics"](world)  # idempotent

        port = demo.emulator.port
        assert demo.feeder.running
    assert not port_open(port)
    assert "AWS_ENDPOINT_URL" not in os.environ


# --- the walk-through: every step to the flip, and back -----------------------------------


def gate(engine: Engine, step: str) -> dict[str, str]:
    return {o.check: o.result.status.value for o in engine.run_gate(step).outcomes}


def wait_for(world: DemoWorld, demo_seconds: float) -> None:
    """Until the demo clock is `demo_seconds` past the world's start."""
    while world.elapsed_s() < demo_seconds:
        time.sleep(0.05)


@pytest.mark.long
def test_walk_every_step_to_the_flip_and_roll_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        no_writes_outside(tmp_path) as directory,
        Demo(directory, users=60, time_scale=FAST, feeder_interval_s=0.2) as demo,
    ):
        world = demo.world
        runtime = Runtime.open(demo.runbook_path)
        # One clock for the metrics, the checks and the run state: the demo's.
        context = runtime.check_context
        monkeypatch.setattr(
            runtime,
            "check_context",
            lambda step: dataclasses.replace(context(step), now=world.clock),
        )
        monkeypatch.setattr("runbook.engine.utcnow", world.clock)
        engine = Engine(runtime)
        fixes = bound_fixes(world)

        def done(step: str, outcome_ok: bool = True) -> None:
            assert engine.do(step, confirmed=True).ok is outcome_ok

        # CDC is still catching up at first. Asked before the walk starts: at FAST a
        # real second is two demo minutes, and the lag clears its window within four.
        assert gate(engine, "replicate-database")["dms.cdc_lag"] == "fail"

        assert gate(engine, "verify-accounts") == {"identity.accounts": "pass"}
        done("verify-accounts")
        assert gate(engine, "reconcile-drift") == {"cfn.drift": "skipped"}  # advisory
        done("reconcile-drift")
        assert gate(engine, "stage-target") == {"cfn.stacks": "pass"}
        done("stage-target")
        assert set(gate(engine, "connect-networks").values()) == {"pass"}
        done("connect-networks")

        # A few demo minutes later the high samples are out of the window.
        wait_for(world, 5.5 * 60)
        assert gate(engine, "replicate-database") == {
            "dms.task": "warn",
            "dms.source_replica": "pass",
            "dms.cdc_lag": "pass",
        }
        done("replicate-database")
        assert gate(engine, "replicate-objects") == {"s3.replication": "pass"}
        done("replicate-objects")
        assert gate(engine, "migrate-users-lazily") == {
            "cognito.migration_trigger": "pass",
            "cognito.migration_progress": "warn",
            "cognito.canary_signin": "skipped",
        }
        assert "users signed in" in fixes["cognito.migration_progress"]()
        assert gate(engine, "migrate-users-lazily") == {
            "cognito.migration_trigger": "pass",
            "cognito.migration_progress": "pass",
            "cognito.canary_signin": "skipped",  # blocking: skipped is not a pass
        }
        engine.waive("migrate-users-lazily", "no Cognito triggers in the emulator; canary skipped")
        done("migrate-users-lazily")

        assert gate(engine, "repoint-cicd") == {
            "codestar.connections": "skipped",
            "refs.source_account": "fail",
            "alarms.topics": "fail",
        }
        assert "target account" in fixes["refs.source_account"]()
        assert "target account" in fixes["alarms.topics"]()
        assert gate(engine, "repoint-cicd") == {
            "codestar.connections": "skipped",
            "refs.source_account": "pass",
            "alarms.topics": "pass",
        }
        engine.waive("repoint-cicd", "no CodeStar API in the emulator; re-authorised by hand")
        done("repoint-cicd")
        assert gate(engine, "validate-target") == {"synthetic.http": "pass"}
        done("validate-target")

        engine.run_gate("lower-ttl")
        done("lower-ttl")
        assert gate(engine, "source-read-only") == {"dms.cdc_lag": "pass"}
        assert not world.source_read_only.is_set()
        done("source-read-only")
        # The feeder follows the run state: no more incoming changes from here on.
        deadline = time.monotonic() + 10
        while not world.source_read_only.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert world.source_read_only.is_set()
        assert demo.feeder.tick()["CDCIncomingChanges"] == 0
        read_only_at = world.elapsed_s()
        assert gate(engine, "drain-cdc")["source.writes_stopped"] == "fail"
        wait_for(world, read_only_at + 4.5 * 60)
        assert gate(engine, "drain-cdc") == {"source.writes_stopped": "pass"}
        done("drain-cdc")

        assert gate(engine, "flip-dns") == {
            "identity.accounts": "pass",
            "dns.ttl": "fail",  # lowered minutes ago, not 24 h
            "source.writes_stopped": "pass",
        }
        engine.waive("flip-dns", "rehearsal: TTL lowered minutes ago, no real resolvers")
        done("flip-dns")
        route53 = world.client("target", "route53")

        def live() -> tuple[str, int]:
            sets = route53.list_resource_record_sets(
                HostedZoneId=world.zone_id,
                StartRecordName=world.record_name,
                StartRecordType="A",
                MaxItems="1",
            )["ResourceRecordSets"]
            return sets[0]["ResourceRecords"][0]["Value"], int(sets[0]["TTL"])

        assert live() == (world.target_ip, 30)
        # The watch holds for the demo's seconds; warnings (no data) are no breach.
        watched = {
            "cognito.signin_success": "warn",
            "cloudwatch.alarms": "pass",
            "lambda.trigger_health": "warn",
            "synthetic.http": "pass",
        }
        assert gate(engine, "watch-after-flip") == watched
        held = engine.do("watch-after-flip")
        assert held.ok, held.summary
        assert held.details["statuses"] == watched and held.details["rounds"] >= 2
        assert gate(engine, "verify-traffic") == {"synthetic.http": "pass"}
        done("verify-traffic")
        assert gate(engine, "force-migrate-users") == {
            "cognito.migration_progress": "pass",
            "cognito.migration_window": "pass",  # flipped, window 0 days, 92 % signed in
        }
        # The demo's pools take an email as the username: the first round sent the
        # source's UUID and every user failed, while the progress said "migrated".
        ticks: list[str] = []
        migrated = engine.do("force-migrate-users", progress=lambda _f, text: ticks.append(text))
        assert migrated.ok, migrated.summary
        counts = migrated.details["counts"]
        assert counts["failed"] == 0 and counts["listed"] == 0
        assert counts["created"] == world.users_total - world.users_migrated
        assert counts["existing"] == world.users_migrated
        assert "0 failed" in ticks[-2] and "created" in ticks[-2]

        # Finishing: validation (waived: the emulator cannot read it), stop, TTL, trigger.
        assert gate(engine, "final-validation") == {"dms.validation": "skipped"}
        engine.waive("final-validation", "no DescribeTableStatistics in the emulator")
        done("final-validation")
        done("stop-replication")
        [task] = world.client("target", "dms").describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [world.task_id]}]
        )["ReplicationTasks"]
        assert task["Status"] == "stopped"  # stopped, still there: never deleted
        done("restore-ttl")
        assert live() == (world.target_ip, 300)  # the seeded TTL, recorded when lowered
        cognito = world.client("target", "cognito-idp")
        before = cognito.describe_user_pool(UserPoolId=world.target_pool_id)["UserPool"]
        done("remove-trigger")
        after = cognito.describe_user_pool(UserPoolId=world.target_pool_id)["UserPool"]
        assert before["LambdaConfig"] and after.get("LambdaConfig", {}) == {}  # both: one Lambda
        assert after["EmailConfiguration"] == before["EmailConfiguration"]  # SES kept
        done("decommission")
        assert engine.current_step() is None

        result = runtime.rollback()
        assert result.confirmed, result.message
        assert live() == (world.source_ip, 30)
        runtime.close()
        assert demo.feeder.last_error is None
        port = demo.emulator.port
    assert not port_open(port)
    assert not demo.feeder.running
