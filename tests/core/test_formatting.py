"""The shared formatting helpers: durations past a day, and counted nouns."""

from __future__ import annotations

import pytest

from runbook.formatting import duration, plural


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.85, "850ms"),
        (12.5, "12.5s"),
        (187, "3m 07s"),
        (2 * 3600 + 5 * 60, "2h 05m"),
        (23 * 3600 + 59 * 60 + 59, "23h 59m"),
        (24 * 3600, "1d 0h"),
        (3 * 86400 + 4 * 3600 + 59 * 60, "3d 4h"),
        (-(3 * 86400 + 4 * 3600), "-3d 4h"),
        (40 * 86400, "40d 0h"),
        (None, "-"),
    ],
)
def test_duration(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("count", "noun", "many", "shown"),
    [
        (0, "reference", None, "0 references"),
        (1, "reference", None, "1 reference"),
        (2, "record", None, "2 records"),
        (1, "user", None, "1 user"),
        (1_234, "user", None, "1234 users"),
        (1, "entry", "entries", "1 entry"),
        (3, "entry", "entries", "3 entries"),
        (-1, "change", None, "-1 change"),
    ],
)
def test_plural(count: int, noun: str, many: str | None, shown: str) -> None:
    assert plural(count, noun, many) == shown
