"""Fixtures of the Lambda tests: a fresh execution environment, moto per module."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from moto import mock_aws

from runbook.cognito.trigger import handler as migration_lambda
from tests.support.aws import fake_aws_environment
from tests.support.lambda_world import (
    ACCESS_ROLE,
    EXTERNAL_ID,
    World,
    build_world,
)
from tests.support.runbooks import REGION


@pytest.fixture(autouse=True)
def fresh_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A new execution environment per test, and a budget that does not depend on how
    busy the test machine is (test_answers_within_cognitos_time_or_refuses uses the real one)."""
    monkeypatch.setattr(migration_lambda, "COGNITO_TIMEOUT_S", 60.0)
    migration_lambda.reset_cache()
    yield
    migration_lambda.reset_cache()


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """moto for the whole module (a reset per test costs more than the tests)."""
    with pytest.MonkeyPatch.context() as mp:
        fake_aws_environment(mp, tmp_path_factory)
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            yield build_world()


@pytest.fixture
def world(pools: World, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> World:
    """The Lambda's environment as deployed, and a username prefix of this test's own."""
    for name, value in {
        "OLD_USER_POOL_ID": pools.source_pool,
        "OLD_CLIENT_ID": pools.source_client,
        "OLD_ROLE_ARN": ACCESS_ROLE,
        "OLD_EXTERNAL_ID": EXTERNAL_ID,
        "OLD_USER_POOL_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("MFA_POLICY", "OLD_CLIENT_SECRET", "GROUP_COPY_WINDOW_S"):
        monkeypatch.delenv(name, raising=False)
    prefix = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8] + "-"
    return replace(pools, prefix=prefix)
