"""4. Start-up: `runbook run` to its first painted screen, against a minimal Textual app.

Each is a fresh process on a pseudo-terminal (120x40, TERM=xterm-256color),
timed from just before it is spawned to the moment its first screen arrives
on the terminal: for runbook, the steps listed (a step title in the output,
painted from the raw TOML while the run loads, `screens/loading.py`); for the
baseline, a Textual app showing one Static. Both pay the interpreter's start
and their imports. runbook's second figure is the overview itself ("ready":
the runbook validated, the run opened, statuses shown). `runbook run` starts
against the emulator (started here), so its identity check answers from
loopback; that check runs after the overview and holds neither figure. Each
process is then sent `q` and reaped, untimed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench._minimal_app import MARKER
from bench.common import ROOT, Measure, Options, Report, child_env, goal_line, log, ratio_line
from runbook.aws.session import build_session
from runbook.demo.emulator import Emulator
from runbook.model import Account
from tests.support import dnsworld as w
from tests.support.runbooks import REGION, TARGET
from tests.support.terminal import Terminal

COLUMNS, ROWS = 120, 40
RUNBOOK_MARKERS = (
    "Verify accounts",  # the first step's title: the steps are listed
    "Took",  # a column only the overview's table has: the run has loaded
)


def paint_times(argv: Sequence[str], markers: Sequence[str], env: dict[str, str]) -> list[float]:
    """Seconds from spawning `argv` on a pty to each of `markers` showing on it, in turn."""
    begun = time.perf_counter()
    with Terminal(argv, env=env, cwd=ROOT, columns=COLUMNS, rows=ROWS) as terminal:
        times = []
        for marker in markers:
            terminal.wait_for(marker)
            times.append(time.perf_counter() - begun)
        terminal.send(b"q")
        terminal.wait_exit(timeout=20)
    return times


# What each layer adds, in a fresh interpreter, CPU time: Textual as the baseline
# imports it, then the runbook's models (pydantic) on top, then the rest of the
# engine, then the app's own screens. Each layer counts only the modules it adds.
_LAYERS = (
    ("Textual (textual.app, widgets)", "textual.app,textual.widgets"),
    ("pydantic and the runbook's models", "runbook.model"),
    ("the engine (runtime, checks API, audit, DNS)", "runbook.runtime,runbook.engine"),
    ("the app's screens", "screens.app"),
)
_LAYER_PROBE = """
import importlib, json, sys, time
out = []
for names in sys.argv[1:]:
    begun = time.process_time()
    for name in names.split(","):
        importlib.import_module(name)
    out.append(time.process_time() - begun)
print(json.dumps(out))
"""


def import_layers(env: dict[str, str], reps: int) -> list[Measure]:
    """CPU seconds each layer of `runbook run`'s imports costs, median of `reps` processes."""
    samples: list[list[float]] = [[] for _ in _LAYERS]
    for _ in range(reps):
        argv = [sys.executable, "-c", _LAYER_PROBE, *(names for _, names in _LAYERS)]
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        for into, seconds in zip(samples, json.loads(done.stdout), strict=True):
            into.append(seconds)
    labels = [label for label, _ in _LAYERS]
    return [Measure.of(f"import: {lb}", "s", s) for lb, s in zip(labels, samples, strict=True)]


def run(options: Options) -> Report:
    reps = options.repetitions(full=7, quick=3)
    report = Report("startup")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp, Emulator(region=REGION):
        directory = Path(tmp)
        session = build_session(Account(account_id=TARGET, region=REGION), read_only=False)
        zone = w.make_zone(session)
        w.upsert(session, zone, w.simple())
        path = w.runbook_file(directory, zone, "simple")
        env = child_env(RUNBOOK_SETTINGS=str(directory / "no-settings.toml"))
        ours_argv = [sys.executable, "-m", "runbook.cli", "run", "-f", str(path)]
        base_argv = [sys.executable, "-m", "bench._minimal_app"]
        ours: list[float] = []
        ready: list[float] = []
        theirs: list[float] = []
        for rep in range(reps + 1):  # the first round warms the page cache, untimed
            order = (True, False) if rep % 2 == 0 else (False, True)
            for mine in order:
                if mine:
                    painted, loaded = paint_times(ours_argv, RUNBOOK_MARKERS, env)
                else:
                    (baseline,) = paint_times(base_argv, (MARKER,), env)
                if rep and mine:
                    ours.append(painted)
                    ready.append(loaded)
                elif rep:
                    theirs.append(baseline)
            if rep:
                log(
                    f"startup {rep}/{reps}: runbook {ours[-1]:.2f} s (ready {ready[-1]:.2f} s), "
                    f"minimal {theirs[-1]:.2f} s"
                )
        layers = import_layers(env, reps)
    a = Measure.of("runbook run, first paint (steps listed)", "s", ours)
    r = Measure.of("runbook run, overview ready", "s", ready)
    b = Measure.of("minimal Textual app", "s", theirs)
    report.measures += [a, r, b, *layers]
    report.ratios.append(ratio_line(a, b, what="what runbook adds to Textual's own start"))
    report.ratios.append(ratio_line(r, b, what="until the run can be acted on (no goal)"))
    ratio = a.median / b.median
    report.goals.append(
        goal_line("runbook run to first paint vs Textual", ratio, "<= 1.5", ratio <= 1.5)
    )
    report.notes.append(
        f"pty {COLUMNS}x{ROWS}; clock from spawn to the first screen's text on the terminal"
    )
    report.notes.append(
        "first paint: the steps from the raw TOML; the models "
        f"({layers[1].median * 1e3:.0f} ms of CPU), the engine and the run load after it, "
        "in a thread, and the overview replaces the list when they have"
    )
    return report
