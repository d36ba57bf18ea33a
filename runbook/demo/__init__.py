"""The rehearsal: an embedded emulator seeded with a two-account world.

The emulator is moto's server, the optional `runbook[demo]` extra. Importing
this package never imports moto: `missing_demo_extra()` says, before anything
starts, whether `runbook demo` can run here.
"""

from __future__ import annotations

import importlib.util
from importlib.machinery import PathFinder

DEMO_EXTRA_INSTALL = "pip install 'runbook[demo]'"

# What `moto[server]` brings that the demo imports: the server and its web
# framework, and the libraries of the services the demo seeds (Cognito's JWTs,
# CloudFormation's templates). Top-level names only: finding them imports nothing.
_REQUIRED = ("moto", "werkzeug", "flask", "flask_cors", "joserfc", "yaml")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _moto_server_present() -> bool:
    """moto.server, found on moto's own path: `find_spec("moto.server")` would import moto."""
    try:
        spec = importlib.util.find_spec("moto")
    except (ImportError, ValueError):
        return False
    locations = spec.submodule_search_locations if spec is not None else None
    return locations is not None and PathFinder.find_spec("server", list(locations)) is not None


def missing_demo_extra() -> str | None:
    """One line saying how to install what `runbook demo` needs, or None when all is there."""
    missing = [name for name in _REQUIRED if not _importable(name)]
    if not missing and not _moto_server_present():
        missing.append("moto.server")
    if not missing:
        return None
    return (
        f"runbook demo needs the demo extra: {DEMO_EXTRA_INSTALL} (missing: {', '.join(missing)})"
    )
