"""What a process imported: the import tests' one reading of `sys.modules` names."""

from __future__ import annotations


def imported(modules: list[str], package: str) -> list[str]:
    """The names of `package` and its submodules among `modules`."""
    return [m for m in modules if m == package or m.startswith(package + ".")]
