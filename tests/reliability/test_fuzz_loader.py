"""Fuzzing the runbook loader: mutated TOML and ARNs always give located errors, exit 2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.endpoint
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = (ROOT / "runbook.toml").read_text()
LINES = BUNDLED.splitlines(keepends=True)
ARN_OR_ID = re.compile(r'"(arn:aws:[^"]*|\d{12}|Z[0-9A-Z]+|vpc-[0-9a-f]+)"')
TARGETS = [m.span(1) for m in ARN_OR_ID.finditer(BUNDLED)]


@pytest.fixture(autouse=True)
def no_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("validate sent a request to AWS")

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", refuse)


def check(path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code = main(["validate", "-f", str(path)])
    out = capsys.readouterr()
    assert code in (0, 2), (code, out.err)
    assert "Traceback" not in out.err + out.out
    if code == 2:
        lines = out.err.strip().splitlines()
        assert lines, "exit 2 without saying why"
        for line in lines:
            assert line.startswith(f"{path}:"), line


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(BUNDLED) - 1), st.integers(0, 8), st.text(max_size=6)),
        min_size=1,
        max_size=4,
    )
)
def test_random_edits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edits: list[tuple[int, int, str]]
) -> None:
    text = BUNDLED
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut :]
    check(tmp_path / "runbook.toml", text, capsys)


@SETTINGS
@given(st.data())
def test_mutated_arns_and_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    start, end = data.draw(st.sampled_from(TARGETS))
    replacement = data.draw(
        st.one_of(
            st.text(alphabet="arn:aws:iam:0123456789/role-_ZvpcA", max_size=40),
            st.from_regex(r"arn:aws:iam::\d{0,14}:(role|user)/[a-z\-]{0,8}", fullmatch=True),
            st.from_regex(r"\d{10,14}", fullmatch=True),
        )
    )
    text = BUNDLED[:start] + replacement.replace('"', "") + BUNDLED[end:]
    check(tmp_path / "runbook.toml", text, capsys)


@SETTINGS
@given(st.lists(st.integers(0, len(LINES) - 1), min_size=1, max_size=6, unique=True))
def test_deleted_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dropped: list[int]
) -> None:
    text = "".join(line for i, line in enumerate(LINES) if i not in dropped)
    check(tmp_path / "runbook.toml", text, capsys)


def test_pathological_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("a = " + "[" * 5000 + "]" * 5000, "\x00", "[[steps]]\n" * 3000, ""):
        check(tmp_path / "runbook.toml", text, capsys)
