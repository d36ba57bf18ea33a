"""Timing helpers and the report table shared by every benchmark.

A benchmark returns a `Report`: its measures (each a list of samples, one per
repetition), ratio lines comparing two measures taken side by side in the same
run, and notes. Nothing here asserts a timing: the figures are printed, never
judged.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


# --- measures -----------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One figure: its samples (one per repetition), a unit, and what it is."""

    label: str
    unit: str  # "s", "/s", "MiB", "x"
    samples: tuple[float, ...]

    @classmethod
    def of(cls, label: str, unit: str, samples: Sequence[float]) -> Measure:
        return cls(label, unit, tuple(float(s) for s in samples))

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def low(self) -> float:
        return min(self.samples) if self.samples else float("nan")

    @property
    def high(self) -> float:
        return max(self.samples) if self.samples else float("nan")

    def fmt(self, value: float) -> str:
        return fmt_value(value, self.unit)

    @property
    def spread(self) -> str:
        if self.n < 2:
            return "-"
        return f"{self.fmt(self.low)} .. {self.fmt(self.high)}"


def fmt_value(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if unit == "s":
        if abs(value) < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if abs(value) < 1.0:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit == "/s":
        if abs(value) >= 100:
            return f"{value:,.0f}/s"
        return f"{value:.1f}/s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:g} {unit}"


def fmt_ratio(value: float) -> str:
    """Two decimals, three below 0.1 (a 16-way speed-up is 0.0625, not 0.06)."""
    return f"{value:.3f}" if abs(value) < 0.1 else f"{value:.2f}"


def ratio_line(
    a: Measure,
    b: Measure,
    *,
    paired: bool = True,
    what: str = "",
) -> str:
    """`A med vs B med: ratio R`; with paired samples, the spread of the per-pair ratios too."""
    ratio = a.median / b.median if b.median else float("nan")
    line = f"{a.label} {a.fmt(a.median)} vs {b.label} {b.fmt(b.median)}: ratio {fmt_ratio(ratio)}"
    if paired and a.n == b.n and a.n >= 2:
        pairs = [x / y for x, y in zip(a.samples, b.samples, strict=True) if y]
        if pairs:
            line += (
                f" (per pair: median {fmt_ratio(statistics.median(pairs))}, "
                f"{fmt_ratio(min(pairs))} .. {fmt_ratio(max(pairs))}, {len(pairs)} pairs)"
            )
    if what:
        line += f"  [{what}]"
    return line


def goal_line(figure: str, value: float, goal: str, met: bool) -> str:
    """One of the issue's goals: the figure, its target beside it, and whether it is met."""
    shown = fmt_ratio(value) if abs(value) < 10 else f"{value:,.0f}"
    return f"GOAL {figure}: {shown} (goal {goal}) {'met' if met else 'NOT met'}"


@dataclass
class Report:
    name: str
    measures: list[Measure] = field(default_factory=list)
    ratios: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    elapsed_s: float = 0.0


# --- running ------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    begun = time.perf_counter()
    fn()
    return time.perf_counter() - begun


@dataclass(frozen=True)
class Options:
    quick: bool = False
    reps: int | None = None  # overrides the benchmark's own default
    cognito_sizes: tuple[int, ...] = ()
    cognito_users: int | None = None

    def repetitions(self, full: int, quick: int) -> int:
        if self.reps is not None:
            return max(1, self.reps)
        return quick if self.quick else full


def log(message: str) -> None:
    """Progress on stderr, so the table on stdout stays clean."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment (the emulator's, when applied) for a child process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def run_child(
    args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        env=env if env is not None else child_env(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:4])} ... exited {done.returncode}:\n{done.stderr[-2000:]}"
        )
    return done


# --- an emulator in a process of its own --------------------------------------


@dataclass
class ExternalEmulator:
    """The project's emulator (`runbook.emulator.Emulator`) in a child process.

    For benchmarks that time this process's event loop: moto's server answering
    in the same interpreter would compete for the GIL and blur the figure.
    """

    environ: dict[str, str]
    process: subprocess.Popen[str]

    @property
    def endpoint_url(self) -> str:
        return self.environ["AWS_ENDPOINT_URL"]


@contextmanager
def external_emulator(
    region: str = "us-east-1", *, processes: int = 0
) -> Iterator[ExternalEmulator]:
    """The emulator in a child process; with `processes`, that many answer at once
    (stateless reads only: `bench._emulator_child`)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench._emulator_child",
            region,
            *(["--processes", str(processes)] if processes else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator child exited before it was ready")
        environ: dict[str, str] = json.loads(line)
        if not environ["AWS_ENDPOINT_URL"].startswith(f"http://{LOOPBACK}:"):
            raise RuntimeError(f"emulator not on loopback: {environ['AWS_ENDPOINT_URL']}")
        yield ExternalEmulator(environ, process)
    finally:
        stdin: IO[str] | None = process.stdin
        if stdin is not None:
            stdin.close()  # the child stops its emulator on EOF
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# What `Emulator.apply_environ` clears too: none of it may reach past the emulator.
CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@contextmanager
def environ_applied(values: dict[str, str]) -> Iterator[None]:
    """Apply an emulator's environment for a block and restore the previous one."""
    saved = {name: os.environ.get(name) for name in (*values, *CLEARED)}
    for name in CLEARED:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the table ----------------------------------------------------------------


def print_reports(reports: Sequence[Report], out: IO[str] = sys.stdout) -> None:
    header = ("benchmark", "figure", "median", "spread (min .. max)", "n")
    rows: list[tuple[str, ...]] = []
    for report in reports:
        if report.skipped:
            rows.append((report.name, "skipped (see below)", "", "", ""))
            continue
        for index, m in enumerate(report.measures):
            rows.append(
                (report.name if index == 0 else "", m.label, m.fmt(m.median), m.spread, str(m.n))
            )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in (2, 4) else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    goals = [goal for report in reports for goal in report.goals]
    print(line(header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)
    print(file=out)
    for index, report in enumerate(reports):
        if index:
            print(file=out)
        if report.skipped:
            print(f"{report.name}: skipped: {report.skipped}", file=out)
            continue
        print(f"{report.name} ({report.elapsed_s:.0f} s):", file=out)
        for ratio in report.ratios:
            print(f"  {ratio}", file=out)
        for goal in report.goals:
            print(f"  {goal}", file=out)
        for note in report.notes:
            print(f"  note: {note}", file=out)
    if goals:
        print("\nThe issue's goals (medians of interleaved runs):", file=out)
        for goal in goals:
            print(f"  {goal.removeprefix('GOAL ')}", file=out)
    out.flush()


def to_json(reports: Sequence[Report]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "skipped": r.skipped,
            "elapsed_s": round(r.elapsed_s, 3),
            "measures": [
                {
                    "label": m.label,
                    "unit": m.unit,
                    "median": m.median,
                    "min": m.low,
                    "max": m.high,
                    "samples": list(m.samples),
                }
                for m in r.measures
            ],
            "ratios": r.ratios,
            "goals": r.goals,
            "notes": r.notes,
        }
        for r in reports
    ]


def until_confirmed(argv: list[str]) -> tuple[float, float]:
    """(seconds to `rollback confirmed` on stdout, seconds to exit), from spawn: a rollback
    command run as the operator would (`runbook rollback`, or a script printing the same)."""
    begun = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT
    )
    assert child.stdout is not None
    confirmed: float | None = None
    for line in child.stdout:
        if confirmed is None and line.startswith("rollback confirmed"):
            confirmed = time.perf_counter() - begun
    _out, err = child.communicate(timeout=120)
    ended = time.perf_counter() - begun
    if child.returncode != 0 or confirmed is None:
        raise RuntimeError(f"{' '.join(argv[:4])} ... did not confirm:\n{err[-2000:]}")
    return confirmed, ended
