"""`python -m bench [NAME ...] [--quick]`: run the benchmarks and print one table.

Every figure is measured side by side with what it is compared to, in this
run, against an emulator started here on 127.0.0.1. Timings are printed, never
asserted: the exit status is 0 (2 only for an unknown benchmark name); a
benchmark that cannot run is listed as skipped, with why.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from bench.common import Options, Report, print_reports, to_json

NAMES = ("rollback", "keystroke", "gate", "startup", "audit", "cognito", "notify")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of counts: {text}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError("counts must be positive")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="runbook benchmarks: ratios measured side by side against a loopback emulator",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"which to run (default all): {', '.join(NAMES)}"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes")
    parser.add_argument("--reps", type=int, default=None, help="repetitions for every benchmark")
    parser.add_argument(
        "--cognito-sizes",
        type=_sizes,
        default=None,
        help="user counts for the memory figure (default 1000,10000,100000; --quick 1000,10000)",
    )
    parser.add_argument(
        "--cognito-users",
        type=int,
        default=None,
        help="users for the throughput figure (default 300; --quick 120)",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write results as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = list(dict.fromkeys(args.names)) or list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(NAMES)}")
        return 2
    # The sizes the issue names; 100,000 users take about ten minutes on two cores
    # (the emulator is the bottleneck), so --quick stops at 10,000.
    default_sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    options = Options(
        quick=args.quick,
        reps=args.reps,
        cognito_sizes=args.cognito_sizes or default_sizes,
        cognito_users=args.cognito_users,
    )
    reports: list[Report] = []
    started = time.perf_counter()
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        runner: Callable[[Options], Report] = importlib.import_module(f"bench.{name}").run
        begun = time.perf_counter()
        try:
            report = runner(options)
        except Exception as exc:
            traceback.print_exc()
            report = Report(name, skipped=f"failed: {type(exc).__name__}: {exc}")
        report.elapsed_s = time.perf_counter() - begun
        reports.append(report)
    print(file=sys.stderr, flush=True)
    print_reports(reports)
    print(f"\n{len(reports)} benchmark(s) in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(to_json(reports), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
