"""`runbook rollback` imports only what the rollback uses, up to its recorded outcome.

Run as an operator runs it (a fresh process against moto's server); the child
notes `sys.modules` at the moment the outcome is recorded and printed (just
before the caveats of what a rollback does not undo are worked out from the
whole runbook) and again at exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support import dnsworld as w
from tests.support.modules import imported

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, sys
    import runbook.cli.rollback as command

    seen = {}
    original = command._aftermath

    def noted(*args, **kwargs):
        seen["outcome"] = sorted(sys.modules)
        return original(*args, **kwargs)

    command._aftermath = noted
    from runbook.cli.main import main

    code = main(["rollback", "-f", sys.argv[1], "--yes"])
    seen["exit"] = sorted(sys.modules)
    with open(sys.argv[2], "w") as out:
        json.dump(seen, out)
    sys.exit(code)
    """
)

# Heavy, and none of them needed to put DNS back and record it.
NOT_BEFORE_THE_OUTCOME = (
    "pydantic",
    "runbook.model",
    "runbook.state",
    "runbook.checkapi",
    "runbook.loader",
    "runbook.registry",
    "runbook.runtime",
    "runbook.engine",
    "boto3",
    "s3transfer",
)
NEVER = ("textual", "rich", "checks")


def test_the_rollback_command_imports_only_what_it_uses(moto_server: str, tmp_path: Path) -> None:
    path, zone = w.walked_run(tmp_path, ("verify-accounts", "lower-ttl", "flip-dns"))
    noted = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(noted)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "rollback confirmed" in done.stdout
    restored = w.records(w.dns_session(False), zone)
    assert restored[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    seen = json.loads(noted.read_text())
    at_outcome, at_exit = seen["outcome"], seen["exit"]
    assert "botocore" in at_outcome  # the client: botocore itself, nothing around it
    for package in NOT_BEFORE_THE_OUTCOME:
        assert imported(at_outcome, package) == [], package
    for package in NEVER:
        assert imported(at_exit, package) == [], package
