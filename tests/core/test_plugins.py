"""Third-party checks by entry point; AccessDenied from a real check names the IAM action."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support.faults import _Raw
from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = """
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from pydantic import BaseModel, ConfigDict


class HelloParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = "hello"


class HelloCheck(Check[HelloParams]):
    meta = CheckMeta(
        id="acme.hello",
        title="Says hello from outside the project",
        account="target",
        blocking=True,
        iam_actions=("sts:GetCallerIdentity",),
        remediation="none",
    )
    params_model = HelloParams

    def run(self, ctx: CheckContext, params: HelloParams) -> CheckResult:
        account = ctx.client("target", "sts").get_caller_identity()["Account"]
        return CheckResult.passed(f"{params.greeting} from {account}")
"""


def install_plugin(site: Path) -> None:
    """Lay the distribution out as pip installs it: the package and its dist-info."""
    package = site / "acme_checks"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "hello.py").write_text(PLUGIN)
    (package / "broken.py").write_text("raise ImportError('acme.broken is broken on purpose')\n")
    info = site / "acme_checks-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[runbook.checks]\n"
        "acme.hello = acme_checks.hello:HelloCheck\n"
        "acme.broken = acme_checks.broken:Nope\n"
    )
    (info / "RECORD").write_text("")


def run_cli(*args: str, site: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"},
        timeout=120,
    )


def test_entry_point_check_is_listed_loaded_and_run(moto_server: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_plugin(site)
    env = {"AWS_ENDPOINT_URL": moto_server}

    listing = run_cli("checks", "--json", site=site, env=env)
    assert listing.returncode == 0, listing.stderr
    rows = {row["id"]: row for row in json.loads(listing.stdout)}
    assert rows["acme.hello"]["origin"] == "plugin acme-checks"
    assert rows["acme.hello"]["title"] == "Says hello from outside the project"
    assert "broken on purpose" in rows["acme.broken"]["error"]  # reported, not fatal
    assert "identity.accounts" in rows

    book = base_runbook()
    book["steps"][0]["checks"].append({"id": "acme.hello", "params": {"greeting": "hi"}})
    path = write_runbook(tmp_path, book)
    checked = run_cli(
        "check", "-f", str(path), "--step", "verify-accounts", "--json", site=site, env=env
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    results = {r["check"]: r for r in json.loads(checked.stdout)}
    assert results["acme.hello"]["status"] == "pass"
    assert results["acme.hello"]["summary"] == "hi from 123456789012"

    book["steps"][0]["checks"][-1]["params"] = {"greting": "typo"}
    write_runbook(tmp_path, book)
    invalid = run_cli("validate", "-f", str(path), site=site, env=env)
    assert invalid.returncode == 2
    assert "steps.0.checks.1.params.greting: unknown key" in invalid.stderr


def access_denied(**_kwargs: Any) -> AWSResponse:
    # CloudWatch speaks the JSON protocol here (awsJson1_0), with the query-compatible code.
    body = json.dumps(
        {
            "__type": "com.amazonaws.cloudwatch#AccessDenied",
            "message": "User: arn:aws:sts::123456789012:assumed-role/ops/runbook is not "
            "authorized to perform: cloudwatch:DescribeAlarms",
        }
    ).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-query-error": "AccessDenied;Sender",
    }
    return AWSResponse("https://monitoring.us-east-1.amazonaws.com/", 403, headers, _Raw(body))


def test_access_denied_names_the_missing_action_and_others_still_run(
    aws: None, tmp_path: Path
) -> None:
    book = base_runbook()
    book["steps"][0]["checks"] = [{"id": "alarms.topics"}, {"id": "identity.accounts"}]
    runtime = Runtime.open(write_runbook(tmp_path, book))
    session: boto3.Session = runtime.sessions.session("target")
    session.events.register("before-send.cloudwatch.DescribeAlarms", access_denied)
    gate = Engine(runtime).run_gate("verify-accounts")
    by_id = {o.check: o.result for o in gate.outcomes}
    assert by_id["alarms.topics"].status.value == "error"
    assert by_id["alarms.topics"].summary == (
        "AccessDenied: missing IAM permission cloudwatch:DescribeAlarms"
    )
    assert by_id["identity.accounts"].status.value == "pass"
    assert not gate.passed
