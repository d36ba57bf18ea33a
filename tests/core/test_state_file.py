"""The state file as other processes see it: always the old or the new state, never a torn one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.state import RunState, StateStore, StepStatus

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_reader_never_sees_a_torn_state_while_another_process_saves(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateStore(path).save(RunState(run_id="r"))
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.core.state_writer", str(path), "400"], cwd=ROOT
    )
    reads = torn = 0
    while writer.poll() is None:
        try:
            json.loads(path.read_bytes())
        except ValueError:
            torn += 1
        reads += 1
    assert writer.returncode == 0
    assert reads > 50  # the reader really raced the writer
    assert torn == 0


def test_a_change_applies_to_what_another_process_wrote(tmp_path: Path) -> None:
    mine, theirs = StateStore(tmp_path / "state.json"), StateStore(tmp_path / "state.json")
    mine.save(RunState(run_id="r"))
    stale = mine.load()  # this process's copy, soon out of date
    theirs.update(lambda s: setattr(s.step("flip"), "status", StepStatus.DONE))
    stale.step("lower").status = StepStatus.DONE
    merged = mine.update(lambda s: setattr(s.step("lower"), "status", StepStatus.DONE))
    assert merged.step("flip").status == StepStatus.DONE  # not set back by the stale copy
    assert merged.step("lower").status == StepStatus.DONE
