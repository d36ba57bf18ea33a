"""Where the settings file lives, and its keymap as written: read before the first paint.

`screens.settings` validates the whole file with pydantic, after the first paint
(`runbook run`); the keymap is applied before it, from the raw TOML, so that a
remapped rollback key works from the first frame. A keymap that does not read
as names to keys is left out here; the validation then stops the app over it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

SETTINGS_ENV = "RUNBOOK_SETTINGS"


def settings_path() -> Path:
    if env := os.environ.get(SETTINGS_ENV):
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "runbook" / "settings.toml"


def raw_keymap(path: Path | None = None) -> dict[str, str]:
    """The file's `keymap` table if it is one of binding ids to keys; else {}."""
    try:
        document = tomllib.loads((path or settings_path()).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    keymap = document.get("keymap", {})
    if not isinstance(keymap, dict):
        return {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()):
        return {}
    return dict(keymap)
