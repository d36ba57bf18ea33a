"""The `runbook` command line (DESIGN section 3 is the contract).

Exit codes: 0 success; 1 a gate or a confirmation did not pass (nothing
changed); 2 bad input. Every expected failure prints one clear line, never a
traceback. Commands that write the audit log print its head hash at exit, so it
can be written down off the machine. Each command group is imported only when
its command runs, so `runbook rollback` loads nothing it does not use.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from runbook import __version__
from runbook.audit.log import AuditCorruptError, AuditWriteError
from runbook.aws.redact import install_logging
from runbook.cli.output import EXIT_FAIL, EXIT_PIPE, EXIT_USAGE, UsageError
from runbook.cli.terminal import install_terminal_logging

# command -> (module in runbook.cli, function)
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("describe", "cmd_validate"),
    "schema": ("describe", "cmd_schema"),
    "checks": ("describe", "cmd_checks"),
    "check": ("gate", "cmd_check"),
    "do": ("gate", "cmd_do"),
    "rollback": ("rollback", "cmd_rollback"),
    "audit": ("audit", "cmd_audit"),
    "run": ("app", "cmd_run"),
    "demo": ("demo", "cmd_demo"),
    "review": ("app", "cmd_review"),
    "lambda": ("cognito", "cmd_lambda"),
    "lease": ("lease", "cmd_lease"),
    "handoff": ("handoff", "cmd_handoff"),
    "approve": ("approve", "cmd_approve"),
    "sync": ("sync", "cmd_sync"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook", description="Guided, audited zero-downtime AWS cross-account cutover."
    )
    parser.add_argument("--version", action="version", version=f"runbook {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_file(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-f", "--file", default="runbook.toml", help="the runbook (runbook.toml)")
        return p

    def with_log(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        # The log itself, its run's directory, or the runbook's run (runbook/cli/locate.py).
        p.add_argument("path", nargs="?", default=None, help="audit log, or a run's directory")
        p.add_argument("-f", "--file", default=None, help="or the run of this runbook")
        return p

    with_file(sub.add_parser("validate", help="load and validate the runbook"))
    with_file(sub.add_parser("run", help="open the terminal app against AWS"))
    demo = sub.add_parser("demo", help="the terminal app against an embedded emulator")
    demo.add_argument("--dir", default=None, help="where the demo writes its files")
    demo.add_argument(
        "--serve", action="store_true", help="keep the emulator running without the app"
    )
    demo.add_argument(
        "--fresh", action="store_true", help="a new rehearsal; the old files are archived"
    )
    check = with_file(sub.add_parser("check", help="run the gating checks headless"))
    check.add_argument("--step", default=None, help="only this step's checks")
    check.add_argument("--json", action="store_true", help="machine-readable results")
    do = with_file(sub.add_parser("do", help="run one step's action headless, after its gate"))
    do.add_argument("step", help="the step id")
    do.add_argument("--yes", action="store_true", help="confirm without asking")
    do.add_argument(
        "--waive",
        metavar="REASON",
        default=None,
        help="waive a failed gate: covers every failing blocking check (in production, the one)",
    )
    do.add_argument(
        "--waive-check",
        metavar="CHECK=REASON",
        action="append",
        type=_waive_check_arg,
        default=[],
        help="a failing blocking check's own reason (repeat; each is needed in production)",
    )
    do.add_argument(
        "--confirm-environment",
        metavar="NAME",
        default=None,
        help="the environment's name, typed to waive the flip's gate in production",
    )
    rollback = with_file(sub.add_parser("rollback", help="DNS back to the pre-flip snapshot"))
    rollback.add_argument("--yes", action="store_true", help="roll back without asking")
    rollback.add_argument(
        "--state-dir", default=None, help="the run's files, if the runbook cannot say where"
    )
    audit = sub.add_parser("audit", help="verify or show an audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = with_log(audit_sub.add_parser("verify", help="check the hash chain"))
    verify.add_argument(
        "--head",
        metavar="SEQ:HASH",
        default=None,
        help="the head written down at exit: the log must still contain it",
    )
    show = with_log(audit_sub.add_parser("show", help="the log as a timeline"))
    show.add_argument("--json", action="store_true")
    report = with_log(
        audit_sub.add_parser("report", help="write an HTML and Markdown review report")
    )
    report.add_argument(
        "--out",
        default=None,  # a str: its trailing slash says "a directory"
        metavar="PREFIX|DIR",
        help="file prefix, or an existing directory",
    )
    report.add_argument(
        "--previous",
        type=Path,
        default=None,
        metavar="FILE",
        help="the previous run's audit log (e.g. the rehearsal's), to compare durations",
    )
    with_log(sub.add_parser("review", help="open the review screen on an audit log"))
    checks = sub.add_parser("checks", help="list every installed check")
    checks.add_argument("--json", action="store_true")
    sub.add_parser("schema", help="print the JSON Schema of runbook.toml")
    lease = sub.add_parser("lease", help="the run's action lease")
    lease_sub = lease.add_subparsers(dest="lease_command", required=True, metavar="ACTION")
    with_file(lease_sub.add_parser("show", help="who holds it, since when"))
    lease_break = with_file(lease_sub.add_parser("break", help="remove a stuck lease (audited)"))
    lease_break.add_argument("--reason", required=True, help="why (audited)")
    approve = with_file(sub.add_parser("approve", help="approve a step as a second AWS principal"))
    approve.add_argument("step", help="the step id")
    approve.add_argument("--reason", default=None, help="why (audited)")
    with_file(sub.add_parser("sync", help="push records written while the backend was unreachable"))
    handoff = with_file(sub.add_parser("handoff", help="the source owner's list of changes"))
    handoff.add_argument(
        "--out",
        default=None,  # a str: its trailing slash says "a directory"
        metavar="FILE|DIR",
        help="write the Markdown here (into DIR/ as <runbook>-handoff.md)",
    )
    lam = sub.add_parser("lambda", help="the Cognito UserMigration Lambda")
    lam_sub = lam.add_subparsers(dest="lambda_command", required=True, metavar="ACTION")
    package = lam_sub.add_parser("package", help="write the deployable zip")
    package.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        metavar="FILE",
        help="zip file, or an existing directory (default ./cognito-user-migration.zip)",
    )
    return parser


def _waive_check_arg(text: str) -> tuple[str, str]:
    from runbook.cli.waive import waive_check_arg  # only `do --waive-check` needs it

    return waive_check_arg(text)


class _NotRaised(Exception):
    """Stands for an error class whose module was never imported: nothing raised one."""


def _raised(module: str, name: str) -> type[Exception]:
    """An error class of a module that only some commands import (the loader, the check
    registry: `runbook rollback` imports neither), looked up as the error is caught."""
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, Exception) else _NotRaised


def _stop(signum: int, _frame: FrameType | None) -> None:
    # Unwinds through every command's `finally`, which prints the audit head.
    raise SystemExit(128 + signum)


def run() -> int:
    """The console script: `main`, with SIGTERM and SIGHUP ending it as cleanly as ctrl+c."""
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _stop)
    code = main()
    try:
        sys.stdout.flush()  # what is still buffered meets a closed pipe here, not at exit
    except BrokenPipeError:
        return _pipe_closed()
    return code


def _pipe_closed() -> int:
    """The reader of stdout went away (`| head`): stop quietly, as `cat` does.

    Not SIGPIPE's default action: a pipe closing must never kill a command half
    way through an action. Whatever is still buffered goes nowhere, so Python's
    own flush at exit has nothing to complain about.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    # Library log records and warnings as one line each, never a traceback;
    # before install_logging, which then adds no handler of its own.
    install_terminal_logging()
    install_logging()
    args = _parser().parse_args(argv)
    module, function = _COMMANDS[args.command]
    if args.command == "audit" and str(args.path).startswith("s3://"):
        module, function = "sync", "cmd_audit_s3"  # the shared log, read from S3
    handler: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f"runbook.cli.{module}"), function
    )
    try:
        return handler(args)
    except _raised("runbook.loader", "RunbookError") as exc:
        for problem in getattr(exc, "problems", [str(exc)]):
            print(problem, file=sys.stderr)
        return _with_notes(exc, EXIT_USAGE)
    except (
        UsageError,
        _raised("runbook.aws.session", "CredentialsError"),
        AuditCorruptError,
        _raised("runbook.registry", "CheckLoadError"),
    ) as exc:
        print(f"runbook: {exc}", file=sys.stderr)
        return _with_notes(exc, EXIT_USAGE)
    except AuditWriteError as exc:
        # Never retried: the tool stops rather than act without a durable record.
        print(f"runbook: STOPPED: {exc}", file=sys.stderr)
        return _with_notes(exc, EXIT_FAIL)
    except KeyboardInterrupt:
        print("runbook: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _pipe_closed()
    except Exception as exc:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("RUNBOOK_DEBUG"):
            raise
        print(
            f"runbook: internal error: {type(exc).__name__}: {exc} "
            "(set RUNBOOK_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return _with_notes(exc, EXIT_FAIL)


def _with_notes(exc: BaseException, code: int) -> int:
    """What a command added to the error it raised (`add_note`), said after the error."""
    for note in getattr(exc, "__notes__", []):
        print(f"runbook: {note}", file=sys.stderr)
    return code
