"""Dependencies by role: the emulator is the demo extra's, the test tools the test extra's."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = {"pytest", "pytest-xdist", "hypothesis", "ruff", "mypy", "awscli"}


def requirements(extra: str | None) -> set[str]:
    """The names pip installs for `runbook` (or `runbook[extra]`), from installed metadata."""
    names = set()
    for line in requires("runbook") or []:
        req = Requirement(line)
        env = {"extra": extra or ""}
        if req.marker is None or req.marker.evaluate(env):
            names.add(req.name.lower())
    return names


def test_plain_install_pulls_neither_the_emulator_nor_the_test_tools() -> None:
    plain = requirements(None)
    assert "moto" not in plain
    assert plain.isdisjoint(TEST_TOOLS)
    assert {"textual", "boto3", "pydantic", "jinja2", "tomli-w"} <= plain


def test_the_demo_extra_brings_the_emulator_and_no_test_tools() -> None:
    demo = requirements("demo")
    assert "moto" in demo
    assert demo.isdisjoint(TEST_TOOLS)


BLOCK_MOTO = """
import sys
from importlib.abc import MetaPathFinder

class NoMoto(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("moto", "werkzeug", "flask"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoMoto())
from runbook.cli.main import main
sys.exit(main(["demo", "--dir", sys.argv[1]]))
"""


def test_demo_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_MOTO, str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'runbook[demo]'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not target.exists()  # nothing written
