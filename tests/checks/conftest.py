"""Fixtures for the check tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runbook.checkapi import CheckContext


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
