"""One reference to the source account reads as one: "1 reference ... in 1 resource"."""

from __future__ import annotations

from typing import Any

from runbook.checkapi import CheckContext, Status
from tests.support.checks import run_check as run
from tests.support.checks import service_role
from tests.support.cognitoworld import lambda_zip
from tests.support.runbooks import REGION, SOURCE


def test_a_single_reference_is_counted_in_the_singular(
    admin: Any, check_context: CheckContext
) -> None:
    admin("target").client("lambda").create_function(
        FunctionName="billing-worker",
        Runtime="nodejs20.x",
        Role=service_role(admin, "lambda"),
        Handler="index.handler",
        Code={"ZipFile": lambda_zip()},
        Environment={
            "Variables": {"QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{SOURCE}/billing"}
        },
    )
    result = run(check_context, "refs.source_account")
    assert result.status == Status.FAIL, result
    assert result.summary.startswith(
        f"1 reference to source account {SOURCE} in 1 resource: lambda billing-worker"
    ), result.summary
