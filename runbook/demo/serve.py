"""A demo directory's life across processes: serve it, attach to it, resume or start afresh.

`runbook demo --serve` keeps the emulator (and its seeded world) running
without the app and writes `demo-serve.json` beside the runbook: the serving
pid, the environment that points a shell at the emulator, and the world's IDs.
Another `runbook demo` on that directory attaches to it: the run resumes where
it stands, in the same world. The emulator keeps its world in memory only, so
once no process serves a directory, its run cannot be resumed against a new
world (its snapshot and IDs name resources that are gone): starting again
needs `--fresh`, which archives the old files within the directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runbook.demo.emulator import port_open
from runbook.demo.model import DemoWorld, LagProfile
from runbook.durable import atomic_write

SERVE_FILE = "demo-serve.json"
STATE_DIR = ".runbook"


class DemoStateError(RuntimeError):
    """The directory's state does not allow what was asked; the message says what to do."""


@dataclass(frozen=True)
class Served:
    """What `demo-serve.json` says about the process serving a directory."""

    pid: int
    environ: dict[str, str]
    world: dict[str, Any]

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        port = urlsplit(self.environ.get("AWS_ENDPOINT_URL", "")).port
        return port is not None and port_open(port)

    def exports(self) -> str:
        """`export NAME=value` lines a shell can `eval`."""
        return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(self.environ.items()))

    def rebuilt_world(self) -> DemoWorld:
        """The served world's IDs, for fixes applied from an attached app."""
        fields = dict(self.world)
        fields["started_at"] = datetime.fromisoformat(fields["started_at"])
        fields["lag"] = LagProfile(**fields["lag"])
        fields["bucket_pairs"] = [tuple(pair) for pair in fields["bucket_pairs"]]
        for name in ("state_file", "archived_state"):
            if fields.get(name):
                fields[name] = Path(fields[name])
        return DemoWorld(**fields)


def _world_fields(world: DemoWorld) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dataclasses.fields(world):
        if item.name.startswith("_") or item.name == "source_read_only":
            continue
        value = getattr(world, item.name)
        if isinstance(value, LagProfile):
            value = dataclasses.asdict(value)
        elif isinstance(value, datetime | Path):
            value = str(value) if isinstance(value, Path) else value.isoformat()
        out[item.name] = value
    return out


def write_served(directory: Path, environ: dict[str, str], world: DemoWorld) -> Served:
    served = Served(os.getpid(), dict(environ), _world_fields(world))
    data = {"pid": served.pid, "environ": served.environ, "world": served.world}
    atomic_write(directory / SERVE_FILE, json.dumps(data, indent=2).encode("utf-8"))
    return served


def read_served(directory: Path) -> Served | None:
    try:
        raw = json.loads((directory / SERVE_FILE).read_bytes())
        return Served(int(raw["pid"]), dict(raw["environ"]), dict(raw["world"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: nobody can be attached through it


def live_server(directory: Path) -> Served | None:
    served = read_served(directory)
    return served if served is not None and served.alive() else None


def clear_served(directory: Path) -> None:
    served = read_served(directory)
    if served is not None and served.pid == os.getpid():
        (directory / SERVE_FILE).unlink(missing_ok=True)


def has_run(directory: Path) -> bool:
    return (directory / STATE_DIR / "state.json").exists() or (
        directory / STATE_DIR / "audit.jsonl"
    ).exists()


def decide(directory: Path, *, fresh: bool, serve: bool) -> Served | None:
    """Attach to a live server (returned), start afresh, or refuse with what to do."""
    served = live_server(directory)
    if served is not None:
        if fresh or serve:
            raise DemoStateError(
                f"{directory} is served by process {served.pid}; stop it (ctrl+c there) "
                "before starting afresh or serving it again"
            )
        return served
    if has_run(directory) and not fresh:
        raise DemoStateError(
            f"{directory} holds a run whose emulator has stopped: the emulator keeps its "
            "world only while it runs, so that run cannot be resumed. Start a new rehearsal "
            f"with `runbook demo --dir {directory} --fresh` (the old files are archived "
            f"inside {directory}), or keep one world alive with `runbook demo --serve --dir "
            f"{directory}` and open the app on it as often as you like"
        )
    return None
