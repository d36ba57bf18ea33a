"""User settings for the terminal app: a TOML file, validated by pydantic."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SETTINGS_ENV = "RUNBOOK_SETTINGS"


class AppSettings(BaseModel):
    """`~/.config/runbook/settings.toml`, or the file named by $RUNBOOK_SETTINGS."""

    model_config = ConfigDict(extra="forbid")

    keymap: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Binding id to keys, e.g. `rollback = "ctrl+b"`; `runbook` help (?) lists the ids.'
        ),
    )
    """Remapped keys by binding id: every binding in the app has an id."""

    auto_refresh_s: float = Field(default=10.0, ge=2.0, le=300.0)
    """How often a step that waits on a changing metric (CDC drain) re-runs its checks."""


def settings_path() -> Path:
    if env := os.environ.get(SETTINGS_ENV):
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "runbook" / "settings.toml"


def load_settings(path: Path | None = None) -> tuple[AppSettings, str | None]:
    """Settings and a warning; a broken file never stops the app (defaults are used)."""
    path = path or settings_path()
    if not path.exists():
        return AppSettings(), None
    try:
        return AppSettings.model_validate(tomllib.loads(path.read_text("utf-8"))), None
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        return AppSettings(), f"{path}: ignored ({first})"
