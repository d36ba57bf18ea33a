"""The house rules of the layout: rooms, no import cycles, one implementation of each helper."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runbook", "screens", "checks")
HANDLER = "runbook.cognito.trigger.handler"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> Iterator[str]:
    """Every project module `path` imports, anywhere in it (functions and TYPE_CHECKING too)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            # `from a.b import c` names module a.b.c when c is a module, else a.b.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                yield name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        deps = set(imports_of(path, set(known))) - {name}
        # A package's own __init__ is imported on the way to any of its modules: not an edge.
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    return graph


def test_no_import_cycle_anywhere() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_can_fail() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_engine_depends_on_neither_app_nor_checks() -> None:
    graph = import_graph()
    bad = {
        (m, d)
        for m, deps in graph.items()
        if m.startswith("runbook")
        for d in deps
        if d.split(".")[0] in ("screens", "checks")
    }
    assert bad == set()


def test_nothing_in_runbook_imports_the_deployed_handler() -> None:
    graph = import_graph()
    assert [m for m, deps in graph.items() if HANDLER in deps] == []


@pytest.mark.parametrize("path", sorted((ROOT / "runbook").rglob("*.py")), ids=str)
def test_no_module_in_runbook_over_500_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 500


# Each helper has one home; its tell-tale code appears nowhere else. The deployed
# Lambda handler is exempt: its zip cannot import the project.
ONE_HOME = {
    "mkstemp(": "runbook/durable.py",
    "os.fsync(handle": "runbook/durable.py",
    '.get("Error", {}).get("Code"': "runbook/aws/errors.py",
    "def gist(": "runbook/audit/record.py",
    "// 3600": "runbook/formatting.py",
}


@pytest.mark.parametrize("needle", sorted(ONE_HOME))
def test_each_helper_has_one_implementation(needle: str) -> None:
    found = sorted(
        str(p.relative_to(ROOT))
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if needle in p.read_text() and module_name(p) != HANDLER
    )
    assert found == [ONE_HOME[needle]]


def test_tests_import_no_other_test_module() -> None:
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            else:
                continue
            for name in names:
                if name.startswith(".") or (
                    name.startswith("tests.") and not name.startswith("tests.support")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []
