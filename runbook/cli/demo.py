"""`demo`: the app on the embedded emulator; `--serve` keeps it running for other shells."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from runbook.aws.redact import install_logging
from runbook.cli.app import app_module, refuse_broken_settings, require_terminal
from runbook.cli.output import EXIT_OK, UsageError, print_head


def cmd_demo(args: argparse.Namespace) -> int:
    from runbook.demo import missing_demo_extra

    if not args.serve:
        refuse_broken_settings()  # before the emulator starts: nothing to undo
    missing = missing_demo_extra()
    if missing is not None:  # installed without the emulator: say how, change nothing
        raise UsageError(missing)
    from runbook.demo.serve import DemoStateError, decide

    directory = Path(args.dir) if args.dir else Path("runbook-demo")
    try:
        served = decide(directory, fresh=args.fresh, serve=args.serve)
    except DemoStateError as exc:
        raise UsageError(str(exc)) from None
    if not args.serve:  # after what decide() says (it only reads); `--serve` is headless
        require_terminal("runbook demo")
    if served is not None:
        print(f"Resuming the run in {directory}/ on the emulator served by process {served.pid}.")
        os.environ.update(served.environ)  # this process talks to the served emulator
        from runbook.demo.fixes import HINTS, bound_fixes
        from runbook.demo.world import banner

        world = served.rebuilt_world()
        hooks = app_module().DemoHooks(
            fixes=bound_fixes(world), hints=dict(HINTS), banner=banner(world)
        )
        return _run_app(directory / "runbook.toml", hooks)
    return _serve(directory) if args.serve else _demo(directory)


def _demo(directory: Path) -> int:
    from runbook.demo.world import Demo, DemoDirectoryError

    print(f"Starting the emulator and seeding a two-account world into {directory}/ ...")
    try:
        with Demo(directory) as demo:
            _say_archived(demo.world.archived_state)
            hooks = app_module().DemoHooks(
                fixes=demo.fixes(),
                hints=demo.hints,
                banner=demo.banner,
                world_ends_on_quit=True,
            )
            _run_app(demo.runbook_path, hooks)
    except DemoDirectoryError as exc:
        raise UsageError(str(exc)) from None
    print("Emulator stopped.")
    return EXIT_OK


def _serve(directory: Path) -> int:
    from runbook.demo.serve import clear_served, write_served
    from runbook.demo.world import Demo, DemoDirectoryError

    print(f"Starting the emulator and seeding a two-account world into {directory}/ ...")

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        with Demo(directory) as demo:
            _say_archived(demo.world.archived_state)
            served = write_served(directory, demo.emulator.environ(), demo.world)
            try:
                print(f"Serving {directory}/ (process {served.pid}). In another shell:\n")
                print(served.exports())
                print(f"\nthen e.g. `runbook check -f {demo.runbook_path}`, or open the app on")
                print(f"this world with `runbook demo --dir {directory}`. ctrl+c stops it.")
                sys.stdout.flush()
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
            finally:
                clear_served(directory)
    except DemoDirectoryError as exc:
        raise UsageError(str(exc)) from None
    print("Emulator stopped.")
    return EXIT_OK


def _say_archived(archived: Path | None) -> None:
    if archived is not None:
        print(f"The previous run's files are archived in {archived}/.")


def _run_app(runbook_path: Path, hooks: Any) -> int:
    app = app_module().build_app(runbook_path, demo=hooks)
    if app.runtime is not None:
        install_logging(logging.INFO, log_file=app.runtime.state_dir / "app.log")
    try:
        app.run()
    finally:
        if app.runtime is not None:
            print_head(app.runtime, sys.stdout)
            app.runtime.close()
    return EXIT_OK
