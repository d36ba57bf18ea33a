"""Formatting shared by every human-readable output: the one duration and time format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# C0 controls (but newline and tab, where multi-line text allows them), DEL, C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def duration(seconds: float | None) -> str:
    """`850ms`, `12.5s`, `3m 07s`, `2h 05m`; `-` for unknown."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1:
        text = f"{s * 1000:.0f}ms"
    elif s < 60:
        text = f"{s:.1f}s"
    elif s < 3600:
        text = f"{int(s // 60)}m {int(s % 60):02d}s"
    else:
        text = f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return sign + text


def parse_time(value: str) -> datetime | None:
    """An ISO 8601 time as written in records; naive times are UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_time(value: str) -> str:
    """`2026-12-01 20:32:52` for a record's time, or the raw text if it does not parse."""
    parsed = parse_time(value)
    if parsed is None:
        return value or "?"
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def printable(text: str, *, one_line: bool = True) -> str:
    """Control characters shown as escapes (`\\x1b`, `\\r`), never sent to a terminal.

    Audit values are operator input and AWS responses: a waiver reason holding
    `\\r\\x1b[2K` must not erase a line of the timeline and forge another.
    """
    pattern = _CONTROL_ONE_LINE if one_line else _CONTROL
    return pattern.sub(lambda m: repr(m.group(0))[1:-1], text)
