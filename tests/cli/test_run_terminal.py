"""`runbook run` on a real terminal: the steps as written first, then the run.

A runbook that reads plainly is painted before it is validated; one that then
fails validation closes the app and prints what `runbook validate` prints,
exit 2. A file that does not even read as TOML is reported before anything is
drawn. Real processes on a pseudo-terminal against moto's server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import dnsworld as w
from tests.support.runbooks import base_runbook, write_runbook
from tests.support.terminal import Terminal, visible

ROOT = Path(__file__).resolve().parents[2]


def run_at_a_terminal(path: Path, tmp_path: Path) -> Terminal:
    env = {**os.environ, "RUNBOOK_SETTINGS": str(tmp_path / "no-settings.toml")}
    argv = [sys.executable, "-m", "runbook.cli", "run", "-f", str(path)]
    return Terminal(argv, env=env, cwd=ROOT)


def validate_problems(path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "validate", "-f", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    return done.stderr.splitlines()


def test_the_steps_show_while_the_run_loads_then_the_overview(
    moto_server: str, tmp_path: Path
) -> None:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    path = write_runbook(tmp_path, base_runbook(zone_id=zone, flip=w.FLIPS["simple"]))
    with run_at_a_terminal(path, tmp_path) as terminal:
        terminal.wait_for("Loading the run")
        terminal.wait_for("Took")  # the overview's table: the run has loaded
        terminal.send(b"q")
        code = terminal.wait_exit()
        assert code == 0, terminal.tail()
        assert "audit head: seq" in terminal.tail()
    assert (tmp_path / ".runbook" / "audit.jsonl").exists()


def test_a_runbook_that_fails_validation_closes_the_app_with_its_problems(
    moto_server: str, tmp_path: Path
) -> None:
    book = base_runbook()
    book["accounts"]["target"]["account_id"] = "12345"  # not 12 digits
    path = write_runbook(tmp_path, book)
    problems = validate_problems(path)
    assert any("account_id" in p for p in problems), problems
    with run_at_a_terminal(path, tmp_path) as terminal:
        terminal.wait_for("Loading the run")  # painted from the raw file first
        code = terminal.wait_exit()
        after = visible(terminal.output).split("Loading the run")[-1]
        assert code == 2, terminal.tail()
        for problem in problems:
            assert problem in after, terminal.tail()
    assert not (tmp_path / ".runbook").exists()  # nothing opened, nothing written


def test_a_file_that_is_not_toml_is_reported_before_anything_is_drawn(
    moto_server: str, tmp_path: Path
) -> None:
    path = tmp_path / "runbook.toml"
    path.write_text('[migration\nname = "x"\n')
    problems = validate_problems(path)
    with run_at_a_terminal(path, tmp_path) as terminal:
        code = terminal.wait_exit()
        assert code == 2, terminal.tail()
        assert "Loading the run" not in visible(terminal.output)
        for problem in problems:
            assert problem in visible(terminal.output)


def test_a_rollback_asked_while_a_broken_run_loaded_is_said_not_done(
    moto_server: str, tmp_path: Path
) -> None:
    book = base_runbook()
    book["accounts"]["target"]["account_id"] = "12345"
    path = write_runbook(tmp_path, book)
    with run_at_a_terminal(path, tmp_path) as terminal:
        terminal.wait_for("Loading the run")
        terminal.send(b"\x12")  # ctrl+r: validation takes far longer than this key's trip
        code = terminal.wait_exit()
        after = visible(terminal.output).split("Loading the run")[-1]
    assert code == 2, terminal.tail()
    assert "account_id" in after
    assert "the rollback asked for while the run loaded was NOT done" in after, after
    assert f"runbook rollback -f {path}" in after


def test_without_a_terminal_the_app_commands_refuse_and_write_nothing(tmp_path: Path) -> None:
    """Once, `run < /dev/null` opened an app that no key could reach, spinning a core."""
    path = write_runbook(tmp_path, base_runbook())
    env = {**os.environ, "RUNBOOK_SETTINGS": str(tmp_path / "no-settings.toml")}
    for command in (["run", "-f", str(path)], ["review", str(tmp_path / "audit.jsonl")]):
        if command[0] == "review":
            (tmp_path / "audit.jsonl").write_text("")
        done = subprocess.run(
            [sys.executable, "-m", "runbook.cli", *command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "needs a terminal on stdin" in done.stderr
    assert not (tmp_path / ".runbook").exists()
