"""cognito.signin_success against SignInSuccesses samples in moto's CloudWatch.

Samples are published as Cognito does: namespace AWS/Cognito, dimensions
UserPool and UserPoolClient, one sample per sign-in (1 with tokens, 0 without).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from runbook.checkapi import CheckContext, Status
from runbook.model import Cognito
from tests.support.checks import Clients
from tests.support.checks import run_check as run
from tests.support.metrics import COGNITO, put_minutes, signins


@pytest.fixture
def pool(clients: Clients, check_context: CheckContext) -> tuple[str, str]:
    """A target pool and its app client; the runbook's [cognito] names the pool."""
    idp = clients("target", "cognito-idp")
    pool_id = idp.create_user_pool(PoolName="desapp")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"][
        "ClientId"
    ]
    check_context.runbook = check_context.runbook.model_copy(
        update={
            "cognito": Cognito(source_user_pool_id="us-east-1_Source1", target_user_pool_id=pool_id)
        }
    )
    return pool_id, client_id


def put(
    clients: Clients, now: datetime, pool: str, client: str, minutes: list[list[float]], **kw: Any
) -> None:
    put_minutes(
        clients("target", "cloudwatch"),
        now,
        COGNITO,
        "SignInSuccesses",
        {"UserPool": pool, "UserPoolClient": client},
        minutes,
        **kw,
    )


def test_rate_above_threshold_passes_and_counts_only_this_client(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    pool_id, client = pool
    put(clients, now, pool_id, client, [signins(40, 1), signins(38, 2), signins(39, 0)])
    # Another client of the pool, and the same client ID in another pool, must not count.
    put(clients, now, pool_id, "otherclient", [signins(0, 50)])
    put(clients, now, "us-east-1_Other", client, [signins(0, 50)])
    result = run(check_context, "cognito.signin_success", {"target_client_id": client})
    assert result.status == Status.PASS, result
    assert result.evidence["signins"] == 120
    assert result.evidence["success_rate"] == pytest.approx(117 / 120)
    rates = [value for _, value in result.evidence["series"]["success_rate"]]
    assert rates == pytest.approx([40 / 41, 38 / 40, 1.0])
    assert "97.5 %" in result.summary


def test_rate_below_threshold_fails(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    pool_id, client = pool
    put(clients, now, pool_id, client, [signins(30, 0), signins(25, 5), signins(26, 4)])
    result = run(check_context, "cognito.signin_success", {"target_client_id": client})
    assert result.status == Status.FAIL, result
    assert "below 95.0 %" in result.summary
    assert "(9 of 90 failed)" in result.summary


def test_threshold_is_a_parameter(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    pool_id, client = pool
    put(clients, now, pool_id, client, [signins(27, 3)])
    params = {"target_client_id": client, "min_success_rate": 0.85}
    assert run(check_context, "cognito.signin_success", params).status == Status.PASS
    params["min_success_rate"] = 0.95
    assert run(check_context, "cognito.signin_success", params).status == Status.FAIL


def test_too_few_signins_warn_instead_of_passing(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    pool_id, client = pool
    put(clients, now, pool_id, client, [signins(3, 0), signins(2, 0)])
    result = run(check_context, "cognito.signin_success", {"target_client_id": client})
    assert result.status == Status.WARN, result
    assert "only 5 sign-ins" in result.summary
    assert "too few to judge" in result.summary


def test_few_signins_whose_failures_already_sink_the_rate_fail(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    # 3 of 10 failed: even 10 more successes give 17/20 = 85 % < 95 %.
    pool_id, client = pool
    put(clients, now, pool_id, client, [signins(7, 3)])
    result = run(check_context, "cognito.signin_success", {"target_client_id": client})
    assert result.status == Status.FAIL, result
    assert "even if the next 10 succeed" in result.summary


def test_no_signins_in_the_window_warns_never_passes(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    pool_id, client = pool
    # Plenty of failures, but before the window: they do not count either way.
    put(clients, now, pool_id, client, [signins(0, 40)], end_minutes_ago=30)
    result = run(check_context, "cognito.signin_success", {"target_client_id": client})
    assert result.status == Status.WARN, result
    assert "no sign-ins on app client" in result.summary
    assert result.evidence["series"]["success_rate"] == []


def test_client_not_in_the_pool_fails(
    check_context: CheckContext, clients: Clients, now: datetime, pool: tuple[str, str]
) -> None:
    pool_id, _ = pool
    put(clients, now, pool_id, "typo0client", [signins(50, 0)])
    result = run(check_context, "cognito.signin_success", {"target_client_id": "typo0client"})
    assert result.status == Status.FAIL, result
    assert f"is not a client of the target pool {pool_id}" in result.summary


def test_without_a_pool_it_fails(check_context: CheckContext) -> None:
    result = run(check_context, "cognito.signin_success", {"target_client_id": "abc"})
    assert result.status == Status.FAIL, result
    assert "no target user pool" in result.summary
