"""User settings for the terminal app: a TOML file, validated by pydantic."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from textual.binding import Binding

# The runbook's own locator: one way of naming a TOML key's file, line and column.
from runbook.loader import _TOML_POS, _Locator, _message, _place
from screens.settings_file import settings_path


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


Bindings = list[tuple[str, Binding]]  # (where, binding), as `screens.help.all_bindings`
# The app's bindings, asked for only when a file has a keymap to check: they import
# every screen, and this module imports none (the app imports it).
BindingsOf = Callable[[], Bindings]


def _parse(path: Path, bindings: BindingsOf) -> tuple[AppSettings, list[str]]:
    """The settings, or the defaults and one `FILE:LINE:COL: key: message` per problem."""
    shown = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return AppSettings(), [f"{shown}: cannot read: {exc}"]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        pos = _TOML_POS.search(str(exc))
        clean = _TOML_POS.sub("", str(exc)).strip()
        where = f"{shown}:{pos.group(1)}:{pos.group(2)}" if pos else shown
        return AppSettings(), [f"{where}: invalid TOML: {clean}"]
    try:
        settings = AppSettings.model_validate(raw)
    except ValidationError as exc:
        locator = _Locator(text)
        problems = []
        for err in exc.errors():
            message = _message(err)
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden" and len(loc) == 1:
                close = difflib.get_close_matches(str(loc[0]), list(AppSettings.model_fields), 1)
                message += f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(_place(shown, loc, message, locator))
        return AppSettings(), problems
    locator = _Locator(text)
    problems = [
        _place(shown, ("keymap", binding_id), message, locator)
        for binding_id, message in (
            keymap_problems(settings.keymap, bindings()) if settings.keymap else []
        )
    ]
    return (AppSettings(), problems) if problems else (settings, [])


def keymap_problems(keymap: dict[str, str], bindings: Bindings) -> list[tuple[str, str]]:
    """(binding id, why) for each remapping the app would not honour as written: an id no
    binding has (it would be ignored), or a key another binding already answers where
    this one acts (one of the two would be lost; rollback acts on every screen)."""
    ids = sorted({b.id for _, b in bindings if b.id})

    def keys(binding: Binding) -> set[str]:
        given = keymap.get(binding.id, binding.key) if binding.id else binding.key
        return {k.strip() for k in given.split(",")}

    problems: list[tuple[str, str]] = []
    for binding_id, remapped in keymap.items():
        if binding_id not in ids:
            close = difflib.get_close_matches(binding_id, ids, 1)
            hint = f"did you mean {close[0]!r}?" if close else "`?` in the app lists the ids"
            problems.append((binding_id, f"no key has this id ({hint})"))
            continue
        own = [(where, b) for where, b in bindings if b.id == binding_id]
        places = {where for where, _ in own}
        anywhere = binding_id == "rollback" or "everywhere" in places
        defaults = {k.strip() for _, b in own for k in b.key.split(",")}  # shared by design
        for key in sorted({k.strip() for k in remapped.split(",")} - defaults):
            taken = [
                f"{other.id or other.action} ({where})"
                for where, other in bindings
                if other.id != binding_id
                and (anywhere or where in places or where == "everywhere")
                and key in keys(other)
            ]
            if taken:
                problems.append((binding_id, f"{key!r} is already the key of {', '.join(taken)}"))
    return problems


def settings_problems(bindings: BindingsOf, path: Path | None = None) -> list[str]:
    """What is wrong with the settings file, each naming the key and its line; [] if fine."""
    path = path or settings_path()
    return _parse(path, bindings)[1] if path.exists() else []


def load_settings(bindings: BindingsOf, path: Path | None = None) -> tuple[AppSettings, str | None]:
    """Settings and a warning; a broken file is used as the defaults.

    The command line refuses a broken file before it opens the app
    (`settings_problems`); this keeps an app built otherwise (tests) running.
    """
    path = path or settings_path()
    if not path.exists():
        return AppSettings(), None
    settings, problems = _parse(path, bindings)
    if problems:
        return settings, f"{problems[0]} (settings ignored: the defaults are used)"
    return settings, None
