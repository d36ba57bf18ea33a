"""Fixtures: fake credentials, moto in-process or as a loopback server, factories.

Thin wrappers: what they build lives in tests/support.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from runbook.aws.session import SessionFactory, build_session
from runbook.checkapi import CheckContext
from runbook.model import Runbook
from tests.support.aws import fake_aws_environment, running_moto_server
from tests.support.checks import make_context
from tests.support.runbooks import base_runbook


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach a real account: fake keys, no profiles, a fixed region."""
    fake_aws_environment(monkeypatch, tmp_path_factory)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process for the whole test."""
    with mock_aws():
        yield


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server on a loopback port, for tests that start real processes."""
    with running_moto_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url


@pytest.fixture
def runbook_dict() -> dict[str, Any]:
    return base_runbook()


@pytest.fixture
def runbook_model(runbook_dict: dict[str, Any]) -> Runbook:
    return Runbook.model_validate(runbook_dict)


@pytest.fixture
def sessions(runbook_model: Runbook) -> SessionFactory:
    return SessionFactory(runbook_model.accounts)


@pytest.fixture
def check_context(
    aws: None, runbook_model: Runbook, sessions: SessionFactory, tmp_path: Path
) -> CheckContext:
    return make_context(runbook_model, sessions, tmp_path)


@pytest.fixture
def admin(runbook_model: Runbook) -> Any:
    """`admin("source")`: an unguarded session, for tests to build resources in any account."""

    def make(name: str) -> boto3.Session:
        return build_session(runbook_model.account(name), read_only=False)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first: pytest-xdist hands tests out in this order, so the long
    ones run beside the many short ones instead of after them (a stable sort keeps
    the order identical on every worker, which xdist requires)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
