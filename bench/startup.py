"""4. Start-up: `runbook run` to its first painted screen, against a minimal Textual app.

Each is a fresh process on a pseudo-terminal (120x40, TERM=xterm-256color),
timed from just before it is spawned to the moment its first screen arrives
on the terminal: for runbook, the overview with its steps listed (a step
title in the output); for the baseline, a Textual app showing one Static.
Both pay the interpreter's start and their imports. `runbook run` starts
against the emulator (started here), so its identity check at start-up
answers from loopback; that check runs in a worker and does not hold the
first paint. Each process is then sent `q` and reaped, untimed.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
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

COLUMNS, ROWS = 120, 40
RUNBOOK_MARKER = "Verify accounts"  # the first step's title, in the overview's table
_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78NOMc]"
)


def visible(raw: bytes) -> str:
    """What a terminal would show, roughly: the output without its escape sequences."""
    return _ESCAPES.sub(b"", raw).decode("utf-8", "replace")


def first_paint(
    argv: Sequence[str], marker: str, env: dict[str, str], timeout: float = 60
) -> float:
    """Seconds from spawning `argv` on a pty to `marker` showing on it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    begun = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    elapsed: float | None = None
    try:
        end = begun + timeout
        while elapsed is None:
            if time.perf_counter() > end:
                raise RuntimeError(f"{marker!r} never painted; saw:\n{visible(seen)[-1500:]}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise RuntimeError(f"exited before painting {marker!r}:\n{visible(seen)[-1500:]}")
            seen += chunk
            if marker in visible(seen[-200_000:]):
                elapsed = time.perf_counter() - begun
        os.write(master, b"q")
        _drain_until_exit(master, process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
    return elapsed


def _drain_until_exit(master: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
    try:
        process.wait(timeout=max(0.1, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
        theirs: list[float] = []
        for rep in range(reps + 1):  # the first round warms the page cache, untimed
            order = (True, False) if rep % 2 == 0 else (False, True)
            for mine in order:
                if mine:
                    elapsed = first_paint(ours_argv, RUNBOOK_MARKER, env)
                else:
                    elapsed = first_paint(base_argv, MARKER, env)
                if rep:
                    (ours if mine else theirs).append(elapsed)
            if rep:
                log(f"startup {rep}/{reps}: runbook {ours[-1]:.2f} s, minimal {theirs[-1]:.2f} s")
        layers = import_layers(env, reps)
    a = Measure.of("runbook run, first paint", "s", ours)
    b = Measure.of("minimal Textual app", "s", theirs)
    report.measures += [a, b, *layers]
    report.ratios.append(ratio_line(a, b, what="what runbook adds to Textual's own start"))
    ratio = a.median / b.median
    report.goals.append(
        goal_line("runbook run to first paint vs Textual", ratio, "<= 1.5", ratio <= 1.5)
    )
    report.notes.append(
        f"pty {COLUMNS}x{ROWS}; clock from spawn to the first screen's text on the terminal"
    )
    models = layers[1].median
    report.notes.append(
        f"the goal leaves {(1.5 - 1) * b.median * 1e3:.0f} ms over the minimal app; pydantic and "
        f"the runbook's models alone take {models * 1e3:.0f} ms of CPU, before anything is drawn "
        "(the overview needs the validated runbook)"
    )
    return report
