"""lambda.trigger_health against AWS/Lambda samples: moto's CloudWatch, and a Stubber for p99.

moto computes no percentile statistic (GetMetricData with `Stat: p99` breaks in
it), so the tests on moto run as on the emulator, where the check reads the
Duration Maximum; the p99 that AWS answers is tested with a Stubber.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from runbook.checkapi import CheckContext, Status
from runbook.model import Cognito
from tests.support.checks import Clients, service_role
from tests.support.checks import run_check as run
from tests.support.cognitoworld import lambda_zip
from tests.support.metrics import LAMBDA, put_minutes, stub_metric_data

FUNCTION = "usermigration"


@dataclass
class Trigger:
    arn: str
    pool: str


@pytest.fixture
def trigger(admin: Any, clients: Clients, check_context: CheckContext) -> Trigger:
    """The UserMigration function, attached to the target pool the runbook names."""
    arn = clients("target", "lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=service_role(admin, "lambda"),
        Handler="index.handler",
        Code={"ZipFile": lambda_zip()},
        Timeout=5,
    )["FunctionArn"]
    pool = clients("target", "cognito-idp").create_user_pool(
        PoolName="desapp", LambdaConfig={"UserMigration": arn}
    )["UserPool"]["Id"]
    check_context.runbook = check_context.runbook.model_copy(
        update={
            "cognito": Cognito(source_user_pool_id="us-east-1_Source1", target_user_pool_id=pool)
        }
    )
    return Trigger(arn, pool)


def put(
    clients: Clients,
    now: datetime,
    *,
    invocations: list[int],
    errors: list[int] | None = None,
    throttles: list[int] | None = None,
    durations: list[list[float]] | None = None,
    function: str = FUNCTION,
) -> None:
    """Per minute, as Lambda publishes them: counts as one Sum each, every Duration a sample."""
    cw = clients("target", "cloudwatch")
    dims = {"FunctionName": function}

    def counts(metric: str, values: list[int] | None) -> None:
        if values is not None:
            put_minutes(cw, now, LAMBDA, metric, dims, [[float(v)] for v in values])

    counts("Invocations", invocations)
    counts("Errors", errors)
    counts("Throttles", throttles)
    if durations is not None:
        put_minutes(cw, now, LAMBDA, "Duration", dims, durations, unit="Milliseconds")


@pytest.fixture
def emulated(check_context: CheckContext) -> CheckContext:
    check_context.emulated = True
    return check_context


def test_healthy_trigger_passes_and_counts_only_its_function(
    emulated: CheckContext, clients: Clients, now: datetime, trigger: Trigger
) -> None:
    put(
        clients,
        now,
        invocations=[10, 12, 8],
        errors=[0, 0, 0],
        throttles=[0, 0, 0],
        durations=[[300.0] * 9 + [900.0], [250.0] * 12, [400.0] * 8],
    )
    # Another function's trouble must not count.
    put(clients, now, invocations=[5], throttles=[9], durations=[[6000.0]], function="other")
    result = run(emulated, "lambda.trigger_health")  # the pool's UserMigration trigger
    assert result.status == Status.PASS, result
    assert result.evidence["function_name"] == FUNCTION
    assert result.evidence["invocations"] == 30
    assert result.evidence["duration_stat"] == "Maximum"
    assert result.evidence["duration_worst_ms"] == 900
    series = result.evidence["series"]["duration_maximum_ms"]
    assert [v for _, v in series] == [900, 250, 400]
    assert series[-1][0] == (now - timedelta(minutes=1)).isoformat()


@pytest.mark.parametrize(
    ("samples", "named"),
    [
        pytest.param(
            {"invocations": [10, 10], "throttles": [0, 2], "durations": [[200.0], [200.0]]},
            "2 throttled invocations",
            id="throttles",
        ),
        pytest.param(
            {"invocations": [10, 10], "errors": [1, 2], "durations": [[200.0], [200.0]]},
            "errors 15.0 % of invocations (above 5 %)",
            id="error-rate",
        ),
        pytest.param(
            {"invocations": [10, 10], "durations": [[200.0], [5000.0]]},
            "Duration Maximum 5000 ms reached Cognito's 5000 ms",
            id="at-cognito-limit",
        ),
        pytest.param(
            {"invocations": [], "throttles": [3]},
            "3 throttled invocations",
            id="throttled-without-invocations",
        ),
    ],
)
def test_unhealthy_trigger_fails_naming_why(
    emulated: CheckContext,
    clients: Clients,
    now: datetime,
    trigger: Trigger,
    samples: dict[str, Any],
    named: str,
) -> None:
    put(clients, now, **samples)
    result = run(emulated, "lambda.trigger_health", {"function_name": FUNCTION})
    assert result.status == Status.FAIL, result
    assert named in result.summary


def test_refused_passwords_under_the_error_rate_pass_and_say_why(
    emulated: CheckContext, clients: Clients, now: datetime, trigger: Trigger
) -> None:
    put(clients, now, invocations=[20, 20], errors=[1, 0], durations=[[300.0], [350.0]])
    result = run(emulated, "lambda.trigger_health", {"function_name": trigger.arn})
    assert result.status == Status.PASS, result
    assert any("refuses wrong passwords" in d for d in result.details)


def test_slow_trigger_warns(
    emulated: CheckContext, clients: Clients, now: datetime, trigger: Trigger
) -> None:
    put(clients, now, invocations=[5], durations=[[300.0, 4200.0]])
    result = run(emulated, "lambda.trigger_health")
    assert result.status == Status.WARN, result
    assert "Duration Maximum 4200 ms" in result.summary


def test_no_invocations_in_the_window_warns(
    emulated: CheckContext, clients: Clients, now: datetime, trigger: Trigger
) -> None:
    put(clients, now, invocations=[0, 0])  # Lambda publishes zeros only while it has data
    result = run(emulated, "lambda.trigger_health")
    assert result.status == Status.WARN, result
    assert "not invoked in the last 15 min" in result.summary


@pytest.mark.parametrize(
    ("params", "named"),
    [
        pytest.param({"function_name": "nosuchfn"}, "nosuchfn not found", id="unknown-function"),
        pytest.param({}, "has no UserMigration trigger attached", id="pool-without-trigger"),
    ],
)
def test_nothing_to_judge_fails(
    emulated: CheckContext, clients: Clients, params: dict[str, Any], named: str
) -> None:
    pool = clients("target", "cognito-idp").create_user_pool(PoolName="bare")["UserPool"]["Id"]
    emulated.runbook = emulated.runbook.model_copy(
        update={
            "cognito": Cognito(source_user_pool_id="us-east-1_Source1", target_user_pool_id=pool)
        }
    )
    result = run(emulated, "lambda.trigger_health", params)
    assert result.status == Status.FAIL, result
    assert named in result.summary


# --- p99, as AWS answers it --------------------------------------------------------------


def expected_queries(stat: str) -> list[dict[str, Any]]:
    def query(i: int, metric: str, s: str) -> dict[str, Any]:
        return {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                },
                "Period": 60,
                "Stat": s,
            },
            "ReturnData": True,
        }

    return [
        query(0, "Invocations", "Sum"),
        query(1, "Errors", "Sum"),
        query(2, "Throttles", "Sum"),
        query(3, "Duration", stat),
    ]


def answer(now: datetime, p99: list[float], status: str = "Complete") -> list[dict[str, Any]]:
    times = [now - timedelta(minutes=len(p99) - i) for i in range(len(p99))]

    def result(i: int, values: list[float]) -> dict[str, Any]:
        return {"Id": f"q{i}", "Timestamps": times, "Values": values, "StatusCode": status}

    return [
        result(0, [40.0] * len(p99)),
        result(1, [0.0] * len(p99)),
        result(2, [0.0] * len(p99)),
        result(3, p99),
    ]


@pytest.mark.parametrize(
    ("p99", "status", "named"),
    [
        pytest.param([800.0, 1200.0], Status.PASS, "Duration p99 1200 ms", id="fast"),
        pytest.param([800.0, 4600.0], Status.WARN, "slow: Duration p99 4600 ms", id="slow"),
        pytest.param([5100.0, 900.0], Status.FAIL, "Duration p99 5100 ms reached", id="timeout"),
    ],
)
def test_p99_is_read_as_the_percentile_statistic(
    check_context: CheckContext,
    now: datetime,
    trigger: Trigger,
    p99: list[float],
    status: Status,
    named: str,
) -> None:
    expected = {
        "MetricDataQueries": expected_queries("p99"),
        "StartTime": ANY,
        "EndTime": now,
        "ScanBy": "TimestampAscending",
    }
    with Stubber(check_context.client("target", "cloudwatch")) as stub:
        stub_metric_data(stub, answer(now, p99), expected)
        result = run(check_context, "lambda.trigger_health", {"function_name": FUNCTION})
        stub.assert_no_pending_responses()
    assert result.status == status, result
    assert named in result.summary
    assert result.evidence["duration_stat"] == "p99"


def test_cloudwatch_refusing_a_query_is_an_error_not_a_pass(
    check_context: CheckContext, now: datetime, trigger: Trigger
) -> None:
    results = answer(now, [800.0], status="Forbidden")
    results[3]["Messages"] = [{"Code": "Forbidden", "Value": "not authorized"}]
    with Stubber(check_context.client("target", "cloudwatch")) as stub:
        stub_metric_data(stub, results)
        result = run(check_context, "lambda.trigger_health", {"function_name": FUNCTION})
    assert result.status == Status.ERROR, result
    assert "Forbidden" in result.summary
