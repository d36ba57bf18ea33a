"""Fixtures: fake credentials, moto in-process or as a loopback server, factories."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from runbook.aws.session import SessionFactory, build_session
from runbook.checkapi import CheckContext
from runbook.model import Runbook
from tests.helpers import base_runbook

_AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach a real account: fake keys, no profiles, a fixed region."""
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path_factory.mktemp("awsconfig")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # moto builds ~1300 AMIs per EC2 backend otherwise; no test needs them.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process for the whole test."""
    with mock_aws():
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's server on a loopback port, for tests that start real processes."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def runbook_dict() -> dict[str, Any]:
    return base_runbook()


@pytest.fixture
def runbook_model(runbook_dict: dict[str, Any]) -> Runbook:
    return Runbook.model_validate(runbook_dict)


@pytest.fixture
def sessions(runbook_model: Runbook) -> SessionFactory:
    return SessionFactory(runbook_model.accounts)


def make_context(runbook: Runbook, sessions: SessionFactory, state_dir: Path) -> CheckContext:
    return CheckContext(runbook=runbook, sessions=sessions, state_dir=state_dir)


@pytest.fixture
def check_context(
    aws: None, runbook_model: Runbook, sessions: SessionFactory, tmp_path: Path
) -> CheckContext:
    return make_context(runbook_model, sessions, tmp_path)


def environ_for_subprocess(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


@pytest.fixture
def admin(runbook_model: Runbook) -> Any:
    """`admin("source")`: an unguarded session, for tests to build resources in any account."""

    def make(name: str) -> boto3.Session:
        return build_session(runbook_model.account(name), read_only=False)

    return make
