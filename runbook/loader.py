"""Reading `runbook.toml`: TOML, the model, then every check's parameters.

All problems are collected and reported one per line, as
`FILE:LINE:COL: path: message` where the line can be found and
`FILE: path: message` otherwise; nothing here raises a traceback at a user.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from runbook.model import Runbook
from runbook.registry import CheckLoadError, CheckRegistry, UnknownCheckError

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_\-\"'. ]+?)\s*=")


class RunbookError(Exception):
    """The runbook cannot be used; `problems` are ready to print, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedRunbook:
    """A validated runbook, where it came from, and its checks' parsed parameters."""

    path: Path
    model: Runbook
    params: dict[tuple[str, int], BaseModel] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        state = Path(self.model.migration.state_dir)
        return state if state.is_absolute() else (self.path.parent / state)


def load(path: str | Path, registry: CheckRegistry | None = None) -> LoadedRunbook:
    path = Path(path)
    shown = str(path)
    model, locator = _model(path)
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, step in enumerate(model.steps):
        if step.id in seen:
            problems.append(
                _place(
                    shown,
                    ("steps", index, "id"),
                    f"duplicate step id {step.id!r} (first used by step {seen[step.id] + 1})",
                    locator,
                )
            )
        seen.setdefault(step.id, index)

    registry = registry if registry is not None else CheckRegistry.discover()
    params: dict[tuple[str, int], BaseModel] = {}
    for s_index, step in enumerate(model.steps):
        for c_index, ref in enumerate(step.checks):
            where: tuple[str | int, ...] = ("steps", s_index, "checks", c_index)
            try:
                cls = registry.get(ref.id)
            except UnknownCheckError:
                hint = difflib.get_close_matches(ref.id, registry.ids(), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                problems.append(
                    _place(shown, (*where, "id"), f"unknown check {ref.id!r}{suggestion}", locator)
                )
                continue
            except CheckLoadError as exc:
                problems.append(_place(shown, (*where, "id"), str(exc), locator))
                continue
            try:
                params[(step.id, c_index)] = cls.params_model.model_validate(ref.params)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = (*where, "params", *err["loc"])
                    problems.append(_place(shown, loc, _message(err), locator))
    if problems:
        raise RunbookError(problems)
    return LoadedRunbook(path=path, model=model, params=params)


def load_model(path: str | Path) -> Runbook:
    """The runbook's model alone, its checks neither imported nor their parameters read
    (RunbookError as from `load`): for what needs no check, after a rollback say."""
    return _model(Path(path))[0]


def _model(path: Path) -> tuple[Runbook, _Locator]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunbookError([f"{shown}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunbookError([f"{shown}: cannot read: {exc}"]) from None
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise RunbookError([f"{shown}: nested too deeply to be a runbook"]) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        pos = _TOML_POS.search(msg)
        if pos:
            clean = _TOML_POS.sub("", msg).strip()
            raise RunbookError([f"{shown}:{pos.group(1)}:{pos.group(2)}: {clean}"]) from None
        raise RunbookError([f"{shown}: invalid TOML: {msg}"]) from None

    locator = _Locator(text)
    try:
        model = Runbook.model_validate(raw)
    except ValidationError as exc:
        raise RunbookError(_format(shown, exc, raw, locator)) from None
    except RecursionError:
        raise RunbookError([f"{shown}: nested too deeply to be a runbook"]) from None
    return model, locator


def _format(shown: str, exc: ValidationError, raw: Any, locator: _Locator) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = _strip_tags(tuple(err["loc"]), raw)
        lines.append(_place(shown, loc, _message(err), locator))
    return lines


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _strip_tags(loc: tuple[Any, ...], raw: Any) -> tuple[Any, ...]:
    """Drop the union tags pydantic puts in locations (`action.manual.confirm`)."""
    out: list[Any] = []
    node = raw
    for part in loc:
        if (
            isinstance(node, dict)
            and part not in node
            and part
            in (
                node.get("kind"),
                node.get("mode"),
            )
        ):
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _place(shown: str, loc: tuple[Any, ...], message: str, locator: _Locator) -> str:
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    step_hint = ""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step_id = locator.step_ids.get(loc[1])
        if step_id:
            step_hint = f" (step {step_id!r})"
    found = locator.find(loc)
    if found is None:
        return f"{shown}: {dotted}: {message}{step_hint}"
    line, col = found
    return f"{shown}:{line}:{col}: {dotted}: {message}{step_hint}"


class _Locator:
    """Maps dotted paths to the line that defines them, well enough for messages.

    It follows table headers, arrays of tables and `key =` lines, and skips
    multi-line strings; anything inside an inline table points at its key.
    """

    def __init__(self, text: str) -> None:
        self.places: dict[tuple[str, ...], tuple[int, int]] = {}
        self.step_ids: dict[int, str] = {}
        counts: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _HEADER.match(line)
            if header:
                parts = tuple(_unquote(p) for p in header.group(2).split("."))
                resolved = self._resolve(parts[:-1], counts)
                if header.group(1) == "[[":
                    key = (*resolved, parts[-1])
                    counts[key] = counts.get(key, -1) + 1
                    table = (*key, str(counts[key]))
                else:
                    table = (*resolved, parts[-1])
                self.places.setdefault(table, (number, 1))
                continue
            key_match = _KEY.match(line)
            if key_match:
                parts = tuple(_unquote(p) for p in key_match.group(2).split("."))
                path = (*table, *parts)
                self.places.setdefault(path, (number, len(key_match.group(1)) + 1))
                if len(table) == 2 and table[0] == "steps" and parts == ("id",):
                    value = line.split("=", 1)[1].strip().strip("\"'")
                    self.step_ids[int(table[1])] = value
                rest = line.split("=", 1)[1]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_string = quote
                        break

    def _resolve(
        self, parts: tuple[str, ...], counts: dict[tuple[str, ...], int]
    ) -> tuple[str, ...]:
        out: list[str] = []
        for part in parts:
            out.append(part)
            index = counts.get(tuple(out))
            if index is not None:
                out.append(str(index))
        return tuple(out)

    def find(self, loc: tuple[Any, ...]) -> tuple[int, int] | None:
        path = tuple(str(p) for p in loc)
        while path:
            if path in self.places:
                return self.places[path]
            path = path[:-1]
        return None


def _unquote(part: str) -> str:
    return part.strip().strip("\"'")
