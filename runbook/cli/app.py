"""`run`, `review`, `demo`: the commands that open the terminal app."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.aws.redact import install_logging
from runbook.cli.locate import audit_log
from runbook.cli.output import EXIT_OK, UsageError, print_head
from runbook.outline import read_outline

if TYPE_CHECKING:
    from runbook.runtime import Runtime


def app_module() -> Any:
    # The engine never imports Textual; the app package is loaded only to open it.
    return importlib.import_module("screens.app")


def require_terminal(command: str) -> None:
    """The app reads its keys from stdin: without a terminal there it cannot be quit,
    and Textual's input loop spins a core (found by a user walk: `run < /dev/null`)."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"{command} is the interactive app: it needs a terminal on stdin "
            "(headless: runbook check, do, rollback, audit)"
        )


def refuse_broken_settings() -> None:
    """A broken settings file stops the app before it opens, naming each wrong key and
    its line (as git does with its config): a remapped rollback key silently lost
    would be found at the worst moment."""
    from runbook.loader import RunbookError

    def bindings() -> list[Any]:  # the app's: only if the file remaps keys
        return importlib.import_module("screens.help").all_bindings(app_module().RunbookApp)

    problems: list[str] = importlib.import_module("screens.settings").settings_problems(bindings)
    if problems:
        raise RunbookError([*problems, "runbook: fix the settings file, or move it away"])


def open_run(path: Path) -> Runtime:
    """Settings checked, runbook validated, run opened: what the app needs to act."""
    from runbook.runtime import Runtime

    refuse_broken_settings()
    runtime = Runtime.open(path)
    install_logging(logging.INFO, log_file=runtime.state_dir / "app.log")
    return runtime


def cmd_run(args: argparse.Namespace) -> int:
    # On a terminal the app paints the steps from the raw TOML, then opens the run
    # (`screens.loading`): validating the runbook costs more than Textual's start.
    # Elsewhere, or when the file does not read plainly, it validates first, so
    # that its problems are printed before anything is drawn.
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    outline = read_outline(Path(args.file)) if terminal else None
    if outline is None:
        from runbook.loader import load

        refuse_broken_settings()
        load(args.file)  # its problems first, exit 2, as `runbook validate` says them
        require_terminal("runbook run")
        return _run_opened(open_run(Path(args.file)))
    loading = importlib.import_module("screens.loading")
    keymap = importlib.import_module("screens.settings_file").raw_keymap()
    opening = loading.Loading(outline, lambda: open_run(Path(args.file)), keymap)
    app = app_module().build_app(loading=opening)
    try:
        app.run()
    finally:
        runtime = app.opened_runtime()
        if runtime is not None:
            print_head(runtime, sys.stdout)
            runtime.close()
    if app.load_error is not None:  # reported as if the run had been opened before the app
        if app.rollback_asked:
            app.load_error.add_note(
                "the rollback asked for while the run loaded was NOT done: the run did not "
                f"open. `runbook rollback -f {args.file}` rolls DNS back from the snapshot "
                "alone, even with the runbook broken."
            )
        raise app.load_error
    return int(app.return_code or EXIT_OK)


def _run_opened(runtime: Runtime) -> int:
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
    require_terminal("runbook review")
    app_module().build_app(review_path=path).run()
    return EXIT_OK
