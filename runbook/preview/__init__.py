"""What a step's action will change, read from AWS before the operator confirms it.

The app's confirmation dialog and `runbook do`'s prompt show the same text:
`preview_change` reads the current values (read-only calls, short timeouts,
one overall deadline) and `render` turns the result into lines through
`templates/change.txt.j2`. A read that fails or runs out of time never stops
the confirmation: the preview then says "could not read current values: ...".
"""

from __future__ import annotations

from runbook.preview.model import ChangePreview, SetChange
from runbook.preview.read import PREVIEW_TIMEOUT_S, preview_change, preview_text
from runbook.preview.render import render

__all__ = [
    "PREVIEW_TIMEOUT_S",
    "ChangePreview",
    "SetChange",
    "preview_change",
    "preview_text",
    "render",
]
