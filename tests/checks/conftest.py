"""Fixtures for all the check tests: unguarded sessions and clients to build with, a fixed now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from runbook.checkapi import CheckContext
from tests.support.checks import Clients


@pytest.fixture
def admin(admin: Any, check_context: CheckContext) -> Callable[[str], Any]:
    """conftest's `admin`, one session per account per test (loading models is the slow part).

    The target's is the check's own session: unguarded, and already warm.
    """
    cache: dict[str, Any] = {"target": check_context.sessions.session("target")}

    def get(name: str) -> Any:
        if name not in cache:
            cache[name] = admin(name)
        return cache[name]

    return get


@pytest.fixture
def clients(check_context: CheckContext, admin: Any) -> Clients:
    """`clients("source", "rds")`: unguarded clients for building resources, one of each."""
    made: dict[tuple[str, str], Any] = {}
    sessions: dict[str, Any] = {}

    def get(account: str, service: str) -> Any:
        if (account, service) not in made:
            if account not in sessions:
                sessions[account] = admin(account)
            made[(account, service)] = sessions[account].client(service)
        return made[(account, service)]

    return get


@pytest.fixture
def now(check_context: CheckContext) -> datetime:
    """A fixed 'now' on a minute boundary, given to the checks through ctx.now."""
    fixed = datetime.now(UTC).replace(second=0, microsecond=0)
    check_context.now = lambda: fixed
    return fixed
