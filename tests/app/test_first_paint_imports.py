"""`runbook run` paints its first screen before botocore (or boto3) is imported.

botocore's config and session pull in its HTTP stack and service loaders; the
app needs none of it to draw the overview, so it loads with the first client,
in the start-up worker that runs after the first paint. Run as an operator runs
it: a fresh process, `runbook run -f FILE` through the command line, its app
headless; the child notes `sys.modules` when the app starts its post-paint
work (`start_run`, called after the first refresh) and quits there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.modules import imported
from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, sys
    from textual.app import App

    seen = {}
    run = App.run

    def headless(self, *args, **kwargs):
        kwargs["headless"] = True
        return run(self, *args, **kwargs)

    App.run = headless
    import screens.app

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
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(noted)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RUNBOOK_SETTINGS": str(tmp_path / "no-settings.toml")},
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(noted.read_text())
    at_paint = seen["first_paint"]
    assert seen["screen"] == "OverviewScreen"
    assert "runbook.runtime" in at_paint and "textual.app" in at_paint  # the run is open
    early = {name: imported(at_paint, name)[:3] for name in NOT_BEFORE_FIRST_PAINT}
    assert not any(early.values()), early
