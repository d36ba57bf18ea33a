"""The outline `runbook run` paints first: the steps as the validated model has them, or
nothing when the raw file does not read plainly (the loader then reports why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook.loader import load
from runbook.outline import read_outline
from tests.support.runbooks import base_runbook, write_runbook


def test_the_outline_lists_the_steps_the_loader_validates(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, base_runbook())
    outline = read_outline(path)
    model = load(path).model
    assert outline is not None
    assert outline.name == model.migration.name
    assert outline.environment == model.migration.environment
    assert [(s.id, s.title, s.phase) for s in outline.steps] == [
        (s.id, s.title, s.phase) for s in model.steps
    ]


def _no_steps(book: dict[str, Any]) -> None:
    book["steps"] = []


def _bad_environment(book: dict[str, Any]) -> None:
    book["migration"]["environment"] = "prod"


def _untitled_step(book: dict[str, Any]) -> None:
    del book["steps"][0]["title"]


def _steps_not_a_list(book: dict[str, Any]) -> None:
    book["steps"] = {"id": "x"}


@pytest.mark.parametrize("spoil", [_no_steps, _bad_environment, _untitled_step, _steps_not_a_list])
def test_a_runbook_that_does_not_read_plainly_has_no_outline(tmp_path: Path, spoil: Any) -> None:
    book = base_runbook()
    spoil(book)
    assert read_outline(write_runbook(tmp_path, book)) is None


@pytest.mark.parametrize("text", ['[migration\nname = "x"\n', "\udcff", ""])
def test_a_file_that_is_not_toml_has_no_outline(tmp_path: Path, text: str) -> None:
    path = tmp_path / "runbook.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert read_outline(path) is None
    assert read_outline(tmp_path / "missing.toml") is None
