"""`runbook run` paints its first screen before botocore (or boto3) is imported.

botocore's config and session pull in its HTTP stack and service loaders; the
app needs none of it to draw the overview, so it loads with the first client,
in the start-up worker that runs after the overview's first paint. Run as an
operator runs it: a fresh process, `runbook run -f FILE` through the command
line, on a pseudo-terminal; the child notes `sys.modules` when the app starts its
post-paint work (`start_run`, called after the overview's first refresh) and
quits there. (What the very first paint, the steps while the run loads, may
import is held tighter by `tests/app/test_loading.py`.)
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

from tests.support.modules import imported
from tests.support.runbooks import base_runbook, write_runbook
from tests.support.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, sys
    import screens.app

    seen = {}

    def noted(self):
        seen["first_paint"] = sorted(sys.modules)
        seen["screen"] = type(self.screen).__name__
        self.exit()

    screens.app.RunbookApp.start_run = noted
    from runbook.cli.main import main

    code = main(["run", "-f", sys.argv[1]])
    with open(sys.argv[2], "w") as out:
        json.dump(seen, out)
    sys.exit(code)
    """
)

NOT_BEFORE_FIRST_PAINT = ("botocore", "boto3", "s3transfer", "urllib3")


def test_the_app_paints_before_botocore_is_imported(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, base_runbook())
    noted = tmp_path / "modules.json"
    env = {**os.environ, "RUNBOOK_SETTINGS": str(tmp_path / "no-settings.toml")}
    argv = [sys.executable, "-c", CHILD, str(path), str(noted)]
    with Terminal(argv, env=env, cwd=ROOT) as terminal:
        code = terminal.wait_exit(timeout=120)
        assert code == 0, terminal.tail()
    seen = json.loads(noted.read_text())
    at_paint = seen["first_paint"]
    assert seen["screen"] == "OverviewScreen"
    assert "runbook.runtime" in at_paint and "textual.app" in at_paint  # the run is open
    early = {name: imported(at_paint, name)[:3] for name in NOT_BEFORE_FIRST_PAINT}
    assert not any(early.values()), early
