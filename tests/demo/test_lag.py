"""The CDC lag profile: high at first, then below the checks' thresholds."""

from __future__ import annotations

import math

import pytest

from runbook.demo.model import LagProfile


def test_lag_history_is_far_behind_and_catching_up() -> None:
    lag = LagProfile()
    history = [max(lag.latency(-s)) for s in range(15 * 60, 0, -60)]
    assert history == sorted(history, reverse=True)
    assert min(history) > 60


@pytest.mark.parametrize(
    ("elapsed_s", "above", "below"),
    [
        (0, 60, math.inf),  # dms.cdc_lag fails at the start
        (90, 0, 60),  # dms.cdc_lag's threshold
        (150, 0, 30),  # source.writes_stopped's drain threshold
    ],
)
def test_lag_at_a_moment_of_the_demo(elapsed_s: float, above: float, below: float) -> None:
    assert above < max(LagProfile().latency(elapsed_s)) < below


def test_changes_arrive_until_the_source_is_read_only() -> None:
    lag = LagProfile()
    assert lag.incoming(10, read_only=False) > 0
    assert lag.incoming(10, read_only=True) == 0
