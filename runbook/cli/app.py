"""`run`, `review`, `demo`: the commands that open the terminal app."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

from runbook.aws.redact import install_logging
from runbook.cli.output import EXIT_OK, UsageError, print_head


def app_module() -> Any:
    # The engine never imports Textual; the app package is loaded only to open it.
    return importlib.import_module("screens.app")


def cmd_run(args: argparse.Namespace) -> int:
    from runbook.runtime import Runtime

    runtime = Runtime.open(args.file)
    install_logging(logging.INFO, log_file=runtime.state_dir / "app.log")
    app = app_module().build_app(runtime=runtime)
    try:
        app.run()
    finally:
        print_head(runtime, sys.stdout)
        runtime.close()
    return int(app.return_code or EXIT_OK)


def cmd_review(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    app_module().build_app(review_path=path).run()
    return EXIT_OK
