"""`runbook/` is the engine: it never imports Textual, and only the factory builds clients."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runbook_package_never_imports_textual() -> None:
    modules = sorted(
        "runbook." + p.stem for p in (ROOT / "runbook").glob("*.py") if p.stem != "__init__"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_no_textual_import_statement_in_runbook() -> None:
    for path in (ROOT / "runbook").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "textual" for n in names), path


def test_clients_and_sessions_are_built_only_by_the_factory() -> None:
    offenders = []
    for folder in ("runbook", "checks", "screens"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "runbook" / "aws.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    base = node.func.value
                    if (
                        isinstance(base, ast.Name)
                        and base.id in ("boto3", "botocore")
                        and node.func.attr in ("client", "resource", "Session", "session")
                    ):
                        offenders.append(f"{path}:{node.lineno}")
                    if node.func.attr in ("create_client", "get_session"):
                        offenders.append(f"{path}:{node.lineno}")
    assert offenders == []
