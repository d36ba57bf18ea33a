"""Formatting shared by every human-readable output: the one duration and time format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# C0 controls (but newline and tab, where multi-line text allows them), DEL, C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def duration(seconds: float | None) -> str:
    """`850ms`, `12.5s`, `3m 07s`, `2h 05m`, `3d 4h`; `-` for unknown."""
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
    elif s < 86400:
        text = f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    else:  # a run left open over a weekend: days read better than `76h`
        text = f"{int(s // 86400)}d {int(s % 86400 // 3600)}h"
    return sign + text


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 reference`, `2 references`; `many` for a noun without a plain -s (`entries`)."""
    return f"{count} {noun if abs(count) == 1 else (many or noun + 's')}"


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


SUMMARY_LIMIT = 240
PAGE_LIMIT = 500
_HTML = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def page_text(html: str) -> str:
    """The readable text of an HTML page: no tags, scripts or styles, one line."""
    return _SPACE.sub(" ", _TAG.sub(" ", _INVISIBLE.sub(" ", html))).strip()


def readable_lines(text: str) -> list[str]:
    """`text` as non-empty lines, with an HTML page reduced to its title and text.

    Error messages carry whatever the far end sent: a proxy's (or the
    emulator's) 5xx is an HTML page, which must not become a summary, an audit
    field or a waiver's subject.
    """
    page = _HTML.search(text)
    if page is None:
        # Leading spaces kept: checks indent detail lines under a heading.
        return [line.rstrip() for line in text.splitlines() if line.strip()]
    before = _SPACE.sub(" ", text[: page.start()]).strip().rstrip(":").strip()
    title = _TITLE.search(text, page.start())
    name = page_text(title.group(1)) if title else ""
    shown = f"an HTML page{f' ({name})' if name else ''} instead of an AWS response"
    body = _clip(page_text(text[page.start() :]), PAGE_LIMIT)
    return [f"{before}: {shown}" if before else shown, *([f"page text: {body}"] if body else [])]


def one_line(text: str, limit: int = SUMMARY_LIMIT) -> tuple[str, list[str]]:
    """A summary line for `text` (at most `limit` characters), and the lines for details."""
    lines = readable_lines(text)
    if not lines:
        return "", []
    first, rest = lines[0].strip(), lines[1:]
    if len(first) > limit:
        return _clip(first, limit), [first, *rest]
    return first, rest


def error_line(exc: BaseException, *, with_type: bool = True) -> str:
    """An exception as one readable line (an HTML error page reduced to its title)."""
    text = f"{type(exc).__name__}: {exc}" if with_type else str(exc)
    return one_line(text)[0]
