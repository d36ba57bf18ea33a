"""`runbook/` is the engine: it never imports Textual, and only the factory builds clients."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runbook_package_never_imports_textual() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "runbook").rglob("*.py")
        if p.name != "__main__.py"
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


# The factory itself, and the Lambda's one-function factory: its deployed zip runs
# in AWS Lambda without pydantic, so it cannot import the project's factory.
EXEMPT = {("runbook/aws/session.py", None), ("runbook/cognito/trigger/handler.py", "_client")}
SESSION_CTORS = {
    "boto3.Session",
    "boto3.session.Session",
    "botocore.session.Session",
    "botocore.session.get_session",
    "botocore.session.create_session",
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


class _Calls(ast.NodeVisitor):
    """Every call made to build a session or a client, with its enclosing function."""

    def __init__(self) -> None:
        self.found: list[tuple[str | None, int, str]] = []
        self.function: str | None = None

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        called = _dotted(node.func)
        receiver, _, method = called.rpartition(".")
        if (
            called in SESSION_CTORS
            or receiver in ("boto3", "botocore")
            or (method in ("client", "resource") and receiver.endswith("session"))
            or method in ("create_client", "get_session")
        ):
            self.found.append((self.function, node.lineno, called))
        self.generic_visit(node)


def calls_in(source: str) -> list[tuple[str | None, int, str]]:
    visitor = _Calls()
    visitor.visit(ast.parse(source))
    return visitor.found


def test_clients_and_sessions_are_built_only_by_the_factory() -> None:
    offenders = []
    for folder in ("runbook", "checks", "screens"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if (rel, None) in EXEMPT:
                continue
            for function, line, called in calls_in(path.read_text()):
                if (rel, function) not in EXEMPT:
                    offenders.append(f"{rel}:{line} {called}")
    assert offenders == []


def test_the_boundary_test_can_fail() -> None:
    bad = "import boto3\n\ndef f(session):\n    return session.client('s3'), boto3.client('sts')\n"
    assert [called for _f, _line, called in calls_in(bad)] == ["session.client", "boto3.client"]
