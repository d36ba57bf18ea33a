"""Mixed into the app, before `App`: notifications are plain text unless asked otherwise.

What a notification says comes from the runbook, AWS and the engine ("no [cognito]
table in the runbook", an ARN, a JSON fragment); read as Textual markup, a bracketed
word vanished from the sentence or the text raised a markup error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel


class PlainNotify:
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        parent: Any = super()
        parent.notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
