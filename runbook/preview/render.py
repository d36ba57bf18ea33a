"""The preview as plain text, through `templates/change.txt.j2`.

Every value passes `printable` on its way out: record values and error messages
come from AWS, and a control character must not reach the terminal.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from runbook.formatting import printable
from runbook.preview.model import ChangePreview


def _finalize(value: object) -> str:
    return printable(str(value))


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("runbook.preview", "templates"),
        autoescape=False,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(preview: ChangePreview) -> str:
    """Lines a person reads before saying yes; no trailing newline."""
    return _env().get_template("change.txt.j2").render(preview=preview).rstrip("\n")
