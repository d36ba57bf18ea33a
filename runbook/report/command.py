"""`runbook audit report FILE [--out PREFIX] [--previous FILE]`: write both files, exit by chain.

`runbook audit report FILE` answers what a reviewer who was not there asks:
who ran what and when, each gate with its evidence, the waivers and their
reasons, rollbacks, actions settled after a crash, how long each step took
against the previous run of the same runbook (the rehearsal, when reporting on
live), and whether the hash chain verifies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.durable import atomic_write
from runbook.outpath import OutputPathError, output_path
from runbook.report.build import build_report
from runbook.report.model import Report, ReportInputError
from runbook.report.render import render_html, render_markdown

EXIT_OK, EXIT_NOT_INTACT, EXIT_USAGE = 0, 1, 2


def output_prefix(log: Path, out: Path | str | None) -> Path:
    """`--out` is an existing directory (the report under its default name) or a file prefix."""
    default_name = f"{log.stem}-report"
    if out is None:
        return Path.cwd() / default_name
    try:
        path = output_path(out, default_name)
    except OutputPathError as exc:
        raise ReportInputError(str(exc)) from None
    if path.suffix.lower() in (".html", ".htm", ".md"):
        return path.with_suffix("")
    return path


def _write(report: Report, prefix: Path, inputs: list[Path]) -> tuple[Path, Path]:
    html_path = prefix.with_name(prefix.name + ".html")
    md_path = prefix.with_name(prefix.name + ".md")
    for target in (html_path, md_path):
        for source in inputs:
            if target.exists() and target.resolve() == source.resolve():
                raise ReportInputError(f"{target}: would overwrite an input audit log")
    try:
        # Atomic: a reader (or a ticket upload) never sees half a report.
        atomic_write(html_path, render_html(report).encode("utf-8"), mode=0o644)
        atomic_write(md_path, render_markdown(report).encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise ReportInputError(f"cannot write the report at {prefix}: {exc}") from None
    return html_path, md_path


def write_report(
    path: Path, out_dir_or_prefix: Path | str | None, previous: Path | None = None
) -> tuple[Path, Path]:
    """Build and write `<name>.html` and `<name>.md`; returns their paths."""
    prefix = output_prefix(path, out_dir_or_prefix)
    report = build_report(path, previous=previous)
    inputs = [path, *([previous] if previous else [])]
    return _write(report, prefix, inputs)


def report_command(path: Path, out: Path | str | None, previous: Path | None) -> int:
    """`runbook audit report`: 0 written; 1 written but the chain is not intact; 2 bad input."""
    try:
        prefix = output_prefix(path, out)  # a missing directory is said before any work
        report = build_report(path, previous=previous)
        inputs = [path, *([previous] if previous else [])]
        html_path, md_path = _write(report, prefix, inputs)
    except ReportInputError as exc:
        print(f"runbook: {exc}", file=sys.stderr)
        return EXIT_USAGE
    chain = report.chain
    stream = sys.stdout if chain.state == "intact" else sys.stderr
    if chain.state == "broken":
        print(f"{path}: NOT TRUSTWORTHY: {chain.headline}", file=stream)
    else:
        print(f"{path}: {chain.headline}", file=stream)
    if report.previous is not None:
        prev = report.previous
        if prev.chain.trustworthy:
            print(f"compared with {prev.source}: {prev.chain.headline}")
        else:
            print(f"warning: previous log {prev.source}: {prev.chain.headline}", file=sys.stderr)
    else:
        print("no previous run given: durations not compared (--previous FILE)")
    print(f"wrote {html_path}")
    print(f"wrote {md_path}")
    return EXIT_OK if chain.state == "intact" else EXIT_NOT_INTACT
