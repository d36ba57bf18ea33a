"""`runbook do`, `check --step` and `approve` with bad input write nothing: no state
directory, no audit record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]


def do(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "do", *args, "-f", str(path), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("flip-dsn",), "unknown step 'flip-dsn'; did you mean 'flip-dns'?"),
        (("nothing-like-it",), "unknown step 'nothing-like-it'. Steps are: verify-accounts"),
        (("flip-dns", "--waive", "  "), "--waive needs a typed reason of at least 3 characters"),
        (("flip-dns", "--waive", "ok"), "--waive needs a typed reason of at least 3 characters"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    path = write_runbook(tmp_path, base_runbook())
    done = do(path, *args)
    assert done.returncode == 2
    assert said in done.stderr and "Nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runbook.toml"]  # no state dir


@pytest.mark.parametrize(
    "command", [("check", "--step", "flip-dsn"), ("approve", "flip-dsn", "--reason", "ok")]
)
def test_an_unknown_step_is_refused_before_the_run_is_opened(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = write_runbook(tmp_path, base_runbook())
    (tmp_path / ".runbook").mkdir()  # a run already begun: nothing may be added to it
    done = subprocess.run(
        [sys.executable, "-m", "runbook.cli", *command, "-f", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "unknown step 'flip-dsn'; did you mean 'flip-dns'?" in done.stderr
    assert list((tmp_path / ".runbook").iterdir()) == []  # no audit record, no state
