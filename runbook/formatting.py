"""Formatting shared by every human-readable output: the one duration and time format."""

from __future__ import annotations

from datetime import UTC, datetime


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
