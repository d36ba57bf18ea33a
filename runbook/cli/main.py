"""The `runbook` command line (DESIGN section 3 is the contract).

Exit codes: 0 success; 1 a gate or a confirmation did not pass (nothing
changed); 2 bad input. Every expected failure prints one clear line, never a
traceback. Commands that write the audit log print its head hash at exit, so it
can be written down off the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from runbook import __version__
from runbook.audit.log import AuditCorruptError, AuditWriteError
from runbook.audit.verify import read_records, verify
from runbook.aws.redact import install_logging
from runbook.aws.session import CredentialsError
from runbook.checkapi import Status
from runbook.dns.rollback import RollbackResult
from runbook.dns.snapshot import Snapshot
from runbook.loader import RunbookError
from runbook.model import ManualAction, Runbook
from runbook.registry import CheckLoadError, CheckRegistry
from runbook.runner import CheckOutcome, gate_passes

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input: printed as one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook", description="Guided, audited zero-downtime AWS cross-account cutover."
    )
    parser.add_argument("--version", action="version", version=f"runbook {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_file(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-f", "--file", default="runbook.toml", help="the runbook (runbook.toml)")
        return p

    with_file(sub.add_parser("validate", help="load and validate the runbook"))
    with_file(sub.add_parser("run", help="open the terminal app against AWS"))
    demo = sub.add_parser("demo", help="the terminal app against an embedded emulator")
    demo.add_argument("--dir", default=None, help="where the demo writes its files")
    check = with_file(sub.add_parser("check", help="run the gating checks headless"))
    check.add_argument("--step", default=None, help="only this step's checks")
    check.add_argument("--json", action="store_true", help="machine-readable results")
    do = with_file(sub.add_parser("do", help="run one step's action headless, after its gate"))
    do.add_argument("step", help="the step id")
    do.add_argument("--yes", action="store_true", help="confirm without asking")
    do.add_argument("--waive", metavar="REASON", default=None, help="waive a failed gate")
    rollback = with_file(sub.add_parser("rollback", help="DNS back to the pre-flip snapshot"))
    rollback.add_argument("--yes", action="store_true", help="roll back without asking")
    audit = sub.add_parser("audit", help="verify or show an audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_sub.add_parser("verify", help="check the hash chain").add_argument("path")
    show = audit_sub.add_parser("show", help="the log as a timeline")
    show.add_argument("path")
    show.add_argument("--json", action="store_true")
    report = audit_sub.add_parser("report", help="write an HTML and Markdown review report")
    report.add_argument("path")
    report.add_argument(
        "--out", type=Path, default=None, metavar="PREFIX", help="directory or file prefix"
    )
    report.add_argument(
        "--previous",
        type=Path,
        default=None,
        metavar="FILE",
        help="the previous run's audit log (e.g. the rehearsal's), to compare durations",
    )
    sub.add_parser("review", help="open the review screen on an audit log").add_argument("path")
    checks = sub.add_parser("checks", help="list every installed check")
    checks.add_argument("--json", action="store_true")
    sub.add_parser("schema", help="print the JSON Schema of runbook.toml")
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


def main(argv: Sequence[str] | None = None) -> int:
    install_logging()
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = _COMMANDS[args.command]
    try:
        return handler(args)
    except RunbookError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, CredentialsError, AuditCorruptError, CheckLoadError) as exc:
        print(f"runbook: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuditWriteError as exc:
        # Never retried: the tool stops rather than act without a durable record.
        print(f"runbook: STOPPED: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("runbook: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("RUNBOOK_DEBUG"):
            raise
        print(
            f"runbook: internal error: {type(exc).__name__}: {exc} "
            "(set RUNBOOK_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAIL


# --- commands ---------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from runbook.loader import load

    loaded = load(args.file)
    checks = sum(len(s.checks) for s in loaded.model.steps)
    print(f"{args.file}: valid ({len(loaded.model.steps)} steps, {checks} checks)")
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


def _open(path: str) -> Any:
    from runbook.engine import Engine
    from runbook.runtime import Runtime

    runtime = Runtime.open(path)
    return runtime, Engine(runtime)


def _head(runtime: Any, out: TextIO = sys.stderr) -> None:
    print(f"audit head: seq {runtime.audit.seq} hash {runtime.audit.head_hash}", file=out)


def cmd_check(args: argparse.Namespace) -> int:
    runtime, engine = _open(args.file)
    try:
        steps = engine.step_ids
        if args.step is not None:
            if args.step not in steps:
                raise UsageError(f"unknown step {args.step!r}; steps are: {', '.join(steps)}")
            steps = [args.step]
        outcomes: list[CheckOutcome] = []
        for step_id in steps:
            if runtime.model.step(step_id).checks:
                outcomes.extend(engine.run_gate(step_id).outcomes)
        if args.json:
            print(json.dumps([o.to_json() for o in outcomes], indent=2))
        else:
            _print_outcomes(outcomes)
        return EXIT_OK if gate_passes(outcomes) else EXIT_FAIL
    finally:
        _head(runtime)
        runtime.close()


_MARK = {
    Status.PASS: "PASS",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.SKIPPED: "SKIP",
}


def _print_outcomes(outcomes: list[CheckOutcome]) -> None:
    step = None
    for o in outcomes:
        if o.step != step:
            step = o.step
            print(f"[{step}]")
        kind = "" if o.blocking else " (advisory)"
        print(f"  {_MARK[o.result.status]:<5} {o.check}{kind}: {o.result.summary}")
        for line in o.result.details:
            print(f"        {line}")


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print(f"{question} -- not confirmed: no terminal to ask; pass --yes", file=sys.stderr)
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def cmd_do(args: argparse.Namespace) -> int:
    from runbook.engine import GateNotPassed

    runtime, engine = _open(args.file)
    try:
        try:
            step = runtime.model.step(args.step)
        except KeyError:
            steps = ", ".join(engine.step_ids)
            raise UsageError(f"unknown step {args.step!r}; steps are: {steps}") from None
        for message in engine.reconcile():
            print(f"resumed: {message}")
        if args.waive is not None and not args.waive.strip():
            raise UsageError("--waive needs a reason")
        gate = engine.run_gate(step.id)
        _print_outcomes(gate.outcomes)
        if not gate.passed:
            if args.waive is None:
                print(f"gate not passed for {step.id}; nothing changed", file=sys.stderr)
                return EXIT_FAIL
            engine.waive(step.id, args.waive)
            print(f"gate waived: {args.waive}")
        if isinstance(step.action, ManualAction):
            question = f"Confirm: {step.action.confirm}"
        else:
            env = runtime.model.migration.environment
            question = f"Run {step.action.kind} for step {step.id!r} ({env})?"
        if not _confirm(question, args.yes):
            runtime.audit.record("action.not_confirmed", step=step.id)
            print("not confirmed; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        try:
            outcome = engine.do(step.id, confirmed=True, progress=_progress_printer())
        except GateNotPassed as exc:
            print(f"not done: {exc}; nothing changed", file=sys.stderr)
            return EXIT_FAIL
        print(("done: " if outcome.ok else "FAILED: ") + outcome.summary)
        return EXIT_OK if outcome.ok else EXIT_FAIL
    finally:
        _head(runtime)
        runtime.close()


def _progress_printer(every_s: float = 1.0) -> Callable[[float | None, str], None]:
    """Progress of long actions on stderr, at most once a second."""
    last = [0.0]

    def report(fraction: float | None, text: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s or fraction == 1.0:
            last[0] = now
            share = "" if fraction is None else f"{fraction:6.1%} "
            print(f"  {share}{text}", file=sys.stderr, flush=True)

    return report


def _print_rollback(result: RollbackResult) -> None:
    if result.confirmed:
        print(result.message)
        for rs in result.read_back:
            print(f"  {json.dumps(rs, sort_keys=True)}")
        return
    print(result.message, file=sys.stderr)
    for error in result.errors[-5:]:
        print(f"  {error}", file=sys.stderr)
    print("Roll back by hand with:", file=sys.stderr)
    print(f"  {result.manual_command}", file=sys.stderr)


def cmd_rollback(args: argparse.Namespace) -> int:
    from runbook.dns.rollback import NoSnapshotError, run_rollback
    from runbook.runtime import Runtime

    try:
        runtime = Runtime.open(args.file)
    except RunbookError as exc:
        # The runbook may be broken at the worst moment; the snapshot carries its account.
        fallback = Path(args.file).parent / ".runbook" / "dns-snapshot.json"
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if not fallback.exists():
            return EXIT_USAGE
        print(f"runbook unusable; rolling back from {fallback} alone", file=sys.stderr)
        snapshot = Snapshot.load(fallback)
        if not _confirm(_rollback_question(snapshot), args.yes):
            return EXIT_FAIL
        result = run_rollback(
            snapshot_path=fallback,
            sessions=None,
            audit=None,
            state=None,
            save_state=None,
            deadline_s=120.0,
        )
        _print_rollback(result)
        return EXIT_OK if result.confirmed else EXIT_FAIL
    try:
        if not runtime.snapshot_path.exists():
            print(
                f"no DNS snapshot at {runtime.snapshot_path}: the flip has not run", file=sys.stderr
            )
            return EXIT_USAGE
        snapshot = Snapshot.load(runtime.snapshot_path)
        if not _confirm(_rollback_question(snapshot), args.yes):
            runtime.audit.record("rollback.not_confirmed")
            from runbook.dns.rollback import manual_command, write_rollback_batch

            command = manual_command(snapshot, write_rollback_batch(snapshot, runtime.state_dir))
            print(f"not confirmed; nothing sent. By hand:\n  {command}", file=sys.stderr)
            return EXIT_FAIL
        try:
            result = runtime.rollback()
        except NoSnapshotError as exc:
            raise UsageError(str(exc)) from None
        _print_rollback(result)
        return EXIT_OK if result.confirmed else EXIT_FAIL
    finally:
        _head(runtime)
        runtime.close()


def _rollback_question(snapshot: Snapshot) -> str:
    values = "; ".join(
        json.dumps(rs.get("ResourceRecords") or rs.get("AliasTarget"))
        for rs in snapshot.record_sets
    )
    return f"Roll {snapshot.name} {snapshot.type} back to the snapshot ({values})?"


def cmd_audit(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if args.audit_command == "report":
        from runbook.report.build import report_command

        return report_command(path, args.out, args.previous)
    report = verify(path)
    if args.audit_command == "verify":
        print(f"{path}: {report.describe()}", file=sys.stdout if report.ok else sys.stderr)
        return EXIT_OK if report.ok else EXIT_FAIL
    records = read_records(path)
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return EXIT_OK
    for line in timeline(records):
        print(line)
    print(f"-- {report.describe()}")
    return EXIT_OK


def timeline(records: list[dict[str, Any]]) -> list[str]:
    """One line per record: seq, time, step, event, the gist of its details."""
    lines = []
    for r in records:
        details = r.get("details") or {}
        gist = details.get("summary") or details.get("reason") or ""
        if r.get("event") == "check.result":
            gist = f"{details.get('check')} {details.get('status')}: {details.get('summary')}"
        time = str(r.get("time", ""))[:19].replace("T", " ")
        step = r.get("step") or "-"
        lines.append(f"{r.get('seq'):>5} {time} {step:<22} {r.get('event'):<24} {gist}")
    return lines


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
        _head(runtime, sys.stdout)
        runtime.close()
    return int(app.return_code or EXIT_OK)


def cmd_review(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    _app_module().build_app(review_path=path).run()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
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
                    _head(app.runtime, sys.stdout)
                    app.runtime.close()
    except DemoDirectoryError as exc:
        raise UsageError(str(exc)) from None
    print("Emulator stopped.")
    return EXIT_OK


def cmd_lambda(args: argparse.Namespace) -> int:
    from runbook.cognito.trigger.handler import HANDLER, build_zip

    path = build_zip(args.out)
    print(
        f"{path}: handler {HANDLER}, Python 3.11+, timeout 5 s. Attach it as the target "
        "pool's Migrate user and Post authentication triggers; set MFA_POLICY to the "
        "runbook's cognito.mfa_challenge."
    )
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "validate": cmd_validate,
    "schema": cmd_schema,
    "checks": cmd_checks,
    "check": cmd_check,
    "do": cmd_do,
    "rollback": cmd_rollback,
    "audit": cmd_audit,
    "run": cmd_run,
    "demo": cmd_demo,
    "review": cmd_review,
    "lambda": cmd_lambda,
}


if __name__ == "__main__":
    raise SystemExit(main())
