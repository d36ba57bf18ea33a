"""`audit verify|show|report`: the log as evidence, for someone who was not there."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runbook.audit.record import gist
from runbook.audit.verify import read_records, records_backward, verify
from runbook.cli.locate import audit_log
from runbook.cli.output import EXIT_FAIL, EXIT_OK, UsageError
from runbook.formatting import printable


def cmd_audit(args: argparse.Namespace) -> int:
    path = audit_log(args.path, args.file)
    if args.audit_command == "report":
        from runbook.report.command import report_command

        return report_command(path, args.out, args.previous)
    report = verify(path)
    if args.audit_command == "verify":
        print(f"{path}: {report.describe()}", file=sys.stdout if report.ok else sys.stderr)
        if report.ok and args.head is not None:
            return _check_head(path, args.head)
        return EXIT_OK if report.ok else EXIT_FAIL
    # Shown either way (a reviewer needs the rest of the timeline), but a broken
    # chain is not a clean exit: a script piping `audit show` must notice.
    records = read_records(path)
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
    else:
        for line in timeline(records):
            print(line)
        print(f"-- {report.describe()}")
    if not report.ok:
        print(f"{path}: {report.describe()}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAIL


def timeline(records: list[dict[str, Any]]) -> list[str]:
    """One line per record: seq, time, step, event, the gist of its details."""
    lines = []
    for r in records:
        details = r.get("details")
        event = str(r.get("event"))
        said = gist(event, details) if isinstance(details, dict) else ""
        time = str(r.get("time", ""))[:19].replace("T", " ")
        step = r.get("step") or "-"
        lines.append(printable(f"{r.get('seq'):>5} {time} {step:<22} {event:<24} {said}"))
    return lines


def _check_head(path: Path, head: str) -> int:
    """A consistent chain can still be a rewritten or truncated one: compare the head kept."""
    seq_text, _, digest = head.partition(":")
    if not seq_text.isdigit() or len(digest) < 8:
        raise UsageError(f"--head takes SEQ:HASH as printed at exit, not {head!r}")
    seq = int(seq_text)
    record = next((r for r in records_backward(path) if r.get("seq") == seq), None)
    if record is None:
        print(f"{path}: has no record seq {seq}: the log was truncated", file=sys.stderr)
        return EXIT_FAIL
    if not str(record.get("hash")).startswith(digest):
        print(
            f"{path}: seq {seq} has hash {record.get('hash')}, not {digest}: "
            "the log was rewritten since that head was written down",
            file=sys.stderr,
        )
        return EXIT_FAIL
    print(f"{path}: contains the head seq {seq} hash {record.get('hash')}")
    return EXIT_OK
