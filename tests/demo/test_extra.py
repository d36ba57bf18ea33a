"""The demo extra: `runbook demo` says what to install before it needs moto."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.machinery import ModuleSpec

import pytest

import runbook.demo
from runbook.demo import missing_demo_extra


def test_nothing_missing_here() -> None:
    assert missing_demo_extra() is None


@pytest.mark.parametrize("absent", ["moto", "flask", "werkzeug"])
def test_a_missing_module_names_the_extra(monkeypatch: pytest.MonkeyPatch, absent: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == absent else real(name, package)

    monkeypatch.setattr(runbook.demo.importlib.util, "find_spec", find_spec)
    message = missing_demo_extra()
    assert message is not None and "\n" not in message
    assert "pip install 'runbook[demo]'" in message
    assert absent in message


@pytest.mark.parametrize("module", ["runbook.demo", "runbook.demo.world"])
def test_importing_the_demo_does_not_import_moto(module: str) -> None:
    code = (
        f"import sys, {module}, runbook.demo; "
        "assert runbook.demo.missing_demo_extra() is None; "
        "loaded = sorted(m for m in sys.modules if m == 'moto' or m.startswith('moto.')); "
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
