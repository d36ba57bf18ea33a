"""`runbook rollback --yes`: its outcome first, then what it did not undo; the run goes back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.rollbackworld import REENABLE, WATCH, flipped_world

ROOT = Path(__file__).resolve().parents[2]


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rollback_prints_the_caveats_after_its_outcome(moto_server: str, tmp_path: Path) -> None:
    world = flipped_world(tmp_path, before=2, after=3)
    assert world.target_pool is not None
    # A user from before the flip changes in the target: that counts too.
    world.cognito.admin_update_user_attributes(
        UserPoolId=world.target_pool,
        Username="early000",
        UserAttributes=[{"Name": "name", "Value": "Changed In Target"}],
    )

    rolled = runbook("rollback", "-f", str(world.path), "--yes")
    assert rolled.returncode == 0, rolled.stderr
    out = rolled.stdout.splitlines()
    outcome = out.index("rollback confirmed: records read back equal the snapshot")
    head = out.index("A rollback does not undo:")
    assert outcome < head  # said after the outcome, never before the UPSERT
    caveats = out[head + 1 : head + 4]
    assert "still read-only" in caveats[0] and f"step {REENABLE}" in caveats[0]
    assert "since the flip (" in caveats[1] and " ago, at " in caveats[1]
    assert caveats[2].startswith("- 4 users created or changed in the target pool")
    assert "Traceback" not in rolled.stdout + rolled.stderr

    # Headless, the run is back at the source owner's step: the watch must wait for it.
    again = runbook("do", WATCH, "-f", str(world.path), "--yes")
    assert again.returncode == 1
    assert f"step '{REENABLE}' must be done first" in again.stderr
