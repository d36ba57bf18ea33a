"""Running checks as the engine does, and building what check tests need."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook.aws.session import SessionFactory
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams
from runbook.model import Runbook

Clients = Callable[[str, str], Any]
"""`clients("source", "rds")`: unguarded clients for building resources (the `clients` fixture)."""

_REGISTRY: Any = None


class HeldCheck(Check[NoParams]):
    """A check still running until `release` is set (a minute at most): a gate under way."""

    meta = CheckMeta(
        id="test.held", title="Held", account="none", remediation="wait", iam_actions=()
    )
    release = threading.Event()

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        self.release.wait(60)
        return CheckResult.passed("released")


def run_check(
    ctx: CheckContext, check_id: str, params: dict[str, Any] | None = None
) -> CheckResult:
    """Run a built-in check as the engine would: found by the registry, params validated."""
    from runbook.registry import CheckRegistry

    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = CheckRegistry.discover(plugins=False)
    cls = _REGISTRY.get(check_id)
    result: CheckResult = cls().run(ctx, cls.params_model.model_validate(params or {}))
    return result


def make_context(runbook: Runbook, sessions: SessionFactory, state_dir: Path) -> CheckContext:
    return CheckContext(runbook=runbook, sessions=sessions, state_dir=state_dir)


def result_text(result: CheckResult) -> str:
    """A result's summary and details, one per line."""
    return "\n".join([result.summary, *result.details])


def service_role(admin: Any, service: str) -> str:
    """An IAM role in the target that `service`.amazonaws.com may assume; returns its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = admin("target").client("iam")
    name = f"{service}-role"
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
