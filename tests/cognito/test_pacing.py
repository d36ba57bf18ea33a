"""Pacing: the shared rate limiter spaces requests and backs off on throttling."""

from __future__ import annotations

import itertools

import pytest

from runbook.cognito.pacing import RateLimiter


def test_rate_limiter_spaces_requests_and_backs_off() -> None:
    waits: list[float] = []
    limiter = RateLimiter(50.0, waits.append)  # a wait that returns at once: slots pile up
    for _ in range(11):
        limiter.acquire()
    assert len(waits) == 10  # the first call never waits
    assert waits[-1] == pytest.approx(10 / 50.0, abs=0.005)
    assert all(b - a == pytest.approx(1 / 50.0, abs=0.005) for a, b in itertools.pairwise(waits))
    limiter.throttled()
    assert limiter.rate == 25.0
    for _ in range(100):
        limiter.succeeded()
    assert limiter.rate == 50.0
