"""`runbook rollback` with nothing to roll back says why: not the run's directory, or
no flip yet. It said "the flip has not run" for both, which from the wrong
directory reads as "nothing to roll back" after a real flip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.runbooks import base_runbook, write_runbook


def rollback(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "rollback", "--yes", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_from_a_directory_without_the_runbook_it_asks_for_the_file(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = rollback(elsewhere)
    assert done.returncode == 2
    assert "this is not the run's directory; pass -f RUNBOOK" in done.stderr
    assert "has not run" not in done.stderr and "has not flipped" not in done.stderr
    assert "rolling back from the snapshot alone" not in done.stderr  # it cannot


def test_a_run_that_never_flipped_says_there_is_nothing_to_roll_back(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, base_runbook())
    done = rollback(tmp_path, "-f", str(path))
    assert done.returncode == 2
    assert "this run has not flipped; nothing to roll back" in done.stderr
