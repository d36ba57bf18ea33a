"""The preview as data: a headline, record sets before and after, and facts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SetChange:
    """One record set: what it says now and what it will say after the action."""

    subject: str  # `app.example.com. A` (and its set identifier, for a weighted set)
    before: str
    after: str


@dataclass
class ChangePreview:
    headline: str
    changes: list[SetChange] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    error: str | None = None
    """Why the current values could not be read, in one line; None when they were."""
