"""Fixtures of the Cognito tests."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.aws.session import SessionFactory


@pytest.fixture
def clients(sessions: SessionFactory) -> tuple[Any, Any]:
    """The source through the guard, as the action gets it."""
    return sessions.client("source", "cognito-idp"), sessions.client("target", "cognito-idp")
