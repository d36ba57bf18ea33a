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


def _app_module() -> Any:
    # The engine never imports Textual; the app package is loaded only to open it.
    return importlib.import_module("screens.app")


def cmd_run(args: argparse.Namespace) -> int:
    from runbook.runtime import Runtime

    runtime = Runtime.open(args.file)
    install_logging(logging.INFO, log_file=runtime.state_dir / "app.log")
    app = _app_module().build_app(runtime=runtime)
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
    _app_module().build_app(review_path=path).run()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from runbook.demo import missing_demo_extra

    missing = missing_demo_extra()
    if missing is not None:  # installed without the emulator: say how, change nothing
        raise UsageError(missing)
    from runbook.demo.world import Demo, DemoDirectoryError

    directory = Path(args.dir) if args.dir else Path("runbook-demo")
    print(f"Starting the emulator and seeding a two-account world into {directory}/ ...")
    app_module = _app_module()
    try:
        with Demo(directory) as demo:
            hooks = app_module.DemoHooks(fixes=demo.fixes(), hints=demo.hints, banner=demo.banner)
            app = app_module.build_app(demo.runbook_path, demo=hooks)
            if app.runtime is not None:
                install_logging(logging.INFO, log_file=app.runtime.state_dir / "app.log")
            try:
                app.run()
            finally:
                if app.runtime is not None:
                    print_head(app.runtime, sys.stdout)
                    app.runtime.close()
    except DemoDirectoryError as exc:
        raise UsageError(str(exc)) from None
    print("Emulator stopped.")
    return EXIT_OK
