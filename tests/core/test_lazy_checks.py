"""Only the checks a runbook names are imported, and packages are scanned for plugins
only when a check is not built in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from runbook.loader import load
from runbook.registry import CheckRegistry

registry = CheckRegistry.discover()
loaded = load(sys.argv[1], registry)
named = sorted({ref.id for step in loaded.model.steps for ref in step.checks})
modules = [(n, m) for n, m in sys.modules.items() if n.startswith("checks.")]
imported = sorted(n for n, m in modules if not hasattr(m, "__path__"))  # packages: listed
print(json.dumps({"named": named, "imported": imported, "ids": len(registry.ids())}))
"""


def test_loading_a_runbook_imports_only_the_checks_it_names(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, base_runbook())
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["named"]
    assert seen["imported"] == [f"checks.{check_id}" for check_id in seen["named"]]
    assert seen["ids"] > len(seen["named"])  # listing them all still finds every check
