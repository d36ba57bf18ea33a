"""`runbook handoff` on the demo: after its gates ran, the evidence names the real resources."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from runbook.cli.main import main
from runbook.demo.model import SOURCE_ACCOUNT, TARGET_ACCOUNT
from runbook.demo.world import Demo
from runbook.handoff.build import build_handoff
from runbook.loader import load
from runbook.registry import CheckRegistry

STEPS = ("verify-accounts", "connect-networks", "replicate-database", "migrate-users-lazily")


def test_demo_handoff_names_the_seeded_resources(tmp_path: Path) -> None:
    with Demo(tmp_path / "demo", users=60) as demo:  # few users: the pools are not its subject
        world, path = demo.world, demo.runbook_path
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):
            for step in STEPS:  # records each check's result in the run's audit log
                main(["check", "-f", str(path), "--step", step])
            assert main(["handoff", "-f", str(path), "--out", str(tmp_path / "owner.md")]) == 0
        registry = CheckRegistry.discover()
        handoff = build_handoff(load(path, registry), registry)
    text = (tmp_path / "owner.md").read_text(encoding="utf-8")
    by_key = {r.key: r for r in handoff.requests}
    region, task = world.region, world.task_id

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{SOURCE_ACCOUNT}:{resource}"

    # From the evidence: the replica DMS reads, the writer behind it, the trigger's role.
    replica = by_key[f"replica:{task}"]
    assert replica.arn == arn("rds", f"db:{world.db_replica_id}")
    assert replica.status is not None and replica.status.status == "pass"
    assert f"replica-logical:{task}" not in by_key  # the demo database is MySQL
    assert by_key["revoke-writes"].arn == arn("rds", f"db:{world.db_writer_id}")
    trust = by_key["trigger-role"].commands[0].documents()[0][1]
    assert f"arn:aws:iam::{TARGET_ACCOUNT}:role/" in trust and "<" not in trust
    # From the runbook: the endpoint service, the buckets, the source pool.
    service = world.endpoint_service_name.rsplit(".", 1)[-1]
    assert by_key[f"endpoint-service:{service}"].arn == arn(
        "ec2", f"vpc-endpoint-service/{service}"
    )
    assert by_key["canary-user"].arn == arn("cognito-idp", f"userpool/{world.source_pool_id}")
    # Each request is in the document with its resource and its verifying check.
    for request in handoff.requests:
        assert f"`{request.arn}`" in text and f"`{request.verify.check}`" in text
    assert handoff.audit_log is not None and handoff.audit_log in text.replace("\\_", "_")
