"""Child process: saves the run state over and over, as fast as it can."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.state import RunState, StateStore, StepStatus


def main() -> None:
    store = StateStore(Path(sys.argv[1]))
    for n in range(int(sys.argv[2])):
        state = RunState(run_id="r")
        for i in range(200):  # a state file of some size, so a torn write is visible
            state.step(f"step-{i}").status = StepStatus.DONE if n % 2 else StepStatus.PENDING
            state.step(f"step-{i}").note = "x" * 40
        store.save(state)


if __name__ == "__main__":
    main()
