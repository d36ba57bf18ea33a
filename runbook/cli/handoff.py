"""`runbook handoff [-f FILE] [--out FILE|DIR]`: the source owner's list of changes, as Markdown.

Reads the runbook and the latest check results in its audit log; sends nothing
to AWS and writes nothing to the run. Without `--out` the document goes to
stdout; with it, the file is replaced atomically (into an existing directory,
as `<runbook>-handoff.md`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook.cli.output import EXIT_OK, UsageError


def cmd_handoff(args: argparse.Namespace) -> int:
    from runbook.durable import atomic_write
    from runbook.handoff.build import build_handoff
    from runbook.handoff.render import render_markdown
    from runbook.loader import load
    from runbook.outpath import OutputPathError, output_path
    from runbook.registry import CheckRegistry

    out = None
    if args.out is not None:
        try:  # before any work: a missing directory is said at once
            out = output_path(args.out, f"{Path(args.file).stem}-handoff.md")
        except OutputPathError as exc:
            raise UsageError(str(exc)) from None
    registry = CheckRegistry.discover()
    handoff = build_handoff(load(args.file, registry), registry)
    text = render_markdown(handoff)
    if out is None:
        print(text, end="")
        return EXIT_OK
    atomic_write(out, text.encode("utf-8"), mode=0o644)
    print(f"{out}: {len(handoff.requests)} requests to the source owner")
    return EXIT_OK
