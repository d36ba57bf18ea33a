"""`validate`, `schema`, `checks`: the runbook and the installed checks, read only."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from runbook.cli.output import EXIT_OK
from runbook.formatting import plural
from runbook.model import Runbook
from runbook.registry import CheckLoadError, CheckRegistry


def cmd_validate(args: argparse.Namespace) -> int:
    from runbook.loader import load

    loaded = load(args.file)
    checks = sum(len(s.checks) for s in loaded.model.steps)
    steps = plural(len(loaded.model.steps), "step")
    print(f"{args.file}: valid ({steps}, {plural(checks, 'check')})")
    return EXIT_OK


def cmd_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(Runbook.model_json_schema(), indent=2))
    return EXIT_OK


def cmd_checks(args: argparse.Namespace) -> int:
    registry = CheckRegistry.discover()
    rows: list[dict[str, Any]] = []
    for check_id in registry.ids():
        entry = registry.entries[check_id]
        try:
            meta = registry.get(check_id).meta
        except CheckLoadError as exc:
            rows.append({"id": check_id, "origin": entry.origin, "error": str(exc)})
            continue
        rows.append(
            {
                "id": meta.id,
                "title": meta.title,
                "account": meta.account,
                "blocking": meta.blocking,
                "severity": meta.severity,
                "iam_actions": list(meta.iam_actions),
                "origin": entry.origin,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if "error" in row:
                print(f"{row['id']:<28} ERROR {row['error']}")
                continue
            kind = "blocking" if row["blocking"] else "advisory"
            print(f"{row['id']:<28} {row['account']:<7} {kind:<9} {row['title']}")
            print(f"{'':<28} IAM: {', '.join(row['iam_actions']) or '-'}")
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return EXIT_OK
