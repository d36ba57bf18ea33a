"""`run`, `review`, `demo`: the commands that open the terminal app."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

from runbook.aws.redact import install_logging
from runbook.cli.locate import audit_log
from runbook.cli.output import EXIT_OK, print_head
from runbook.loader import RunbookError


def app_module() -> Any:
    # The engine never imports Textual; the app package is loaded only to open it.
    return importlib.import_module("screens.app")


def refuse_broken_settings() -> None:
    """A broken settings file stops the app before it opens, naming each wrong key and
    its line (as git does with its config): a remapped rollback key silently lost
    would be found at the worst moment."""
    problems: list[str] = importlib.import_module("screens.settings").settings_problems()
    if problems:
        raise RunbookError([*problems, "runbook: fix the settings file, or move it away"])


def cmd_run(args: argparse.Namespace) -> int:
    from runbook.runtime import Runtime

    refuse_broken_settings()
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
    path = audit_log(args.path, args.file)
    refuse_broken_settings()
    app_module().build_app(review_path=path).run()
    return EXIT_OK
