"""The command line behaves like other Unix tools: `audit verify DIR` (or `-f RUNBOOK`),
a closed pipe ends quietly, `--out DIR/` writes into the directory under the file's
default name, and a broken settings file names the wrong key and its line. Real
processes; no traceback in any output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.audit.log import AuditLog
from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "runbook.toml"
SIGPIPE_EXIT = 128 + 13  # what a shell reports for a process ended by SIGPIPE


def runbook_cli(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def a_run(tmp_path: Path, records: int = 3) -> tuple[Path, Path]:
    """A runbook and its run's audit log where the runbook keeps it (.runbook/ beside it)."""
    path = write_runbook(tmp_path, base_runbook())
    (tmp_path / ".runbook").mkdir()
    log = AuditLog(
        tmp_path / ".runbook" / "audit.jsonl", run_id="r", environment="rehearsal", operator={}
    )
    for n in range(records):
        log.record("test.event", summary=f"record {n} " + "x" * 200)
    log.close()
    return path, log.path


def test_audit_verify_takes_the_log_its_directory_or_the_runbook(tmp_path: Path) -> None:
    path, log = a_run(tmp_path)
    said = set()
    for args in (
        [str(log)],
        [str(log.parent)],  # the run's state directory
        [str(tmp_path)],  # the runbook's directory (a demo directory too)
        ["-f", str(path)],
    ):
        done = runbook_cli("audit", "verify", *args)
        assert done.returncode == 0, (args, done.stderr)
        said.add(done.stdout)
    assert len(said) == 1 and str(log) in said.pop()  # the same log, named, each way
    shown = runbook_cli("audit", "show", str(tmp_path))
    assert shown.returncode == 0 and "record 2" in shown.stdout


def test_audit_verify_of_a_directory_without_a_log_is_one_line_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = runbook_cli("audit", "verify", str(empty))
    assert done.returncode == 2
    assert done.stderr.startswith(f"runbook: {empty}: no audit log in this directory")
    missing = runbook_cli("audit", "verify", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr


def test_audit_verify_of_a_broken_run_directory_exits_1(tmp_path: Path) -> None:
    _path, log = a_run(tmp_path)
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([lines[0], lines[1].replace(b"record 1", b"record 9"), lines[2]]))
    done = runbook_cli("audit", "verify", str(tmp_path))
    assert done.returncode == 1 and "seq 2" in done.stderr


def test_audit_verify_of_a_runbook_says_it_is_not_a_log_not_that_it_was_altered(
    tmp_path: Path,
) -> None:
    """A runbook passed where the log goes read as 'seq 1 ... the record was altered':
    a false alarm of tampering. A log with its first record altered is still a log."""
    path, log = a_run(tmp_path)
    done = runbook_cli("audit", "verify", str(path))
    assert done.returncode == 2, done.stderr
    assert "not an audit log" in done.stderr and f"give it as -f {path}" in done.stderr
    assert "altered" not in done.stderr.split("not an audit log")[0]
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([b"garbage\n", *lines[1:]]))
    broken = runbook_cli("audit", "verify", str(log))
    assert broken.returncode == 1 and "seq 1" in broken.stderr


@pytest.mark.parametrize("json", [True, False], ids=["json", "timeline"])
def test_a_closed_pipe_ends_audit_show_quietly(tmp_path: Path, json: bool) -> None:
    """`runbook audit show --json | head -1`: more than a pipe holds, the reader goes away."""
    _path, log = a_run(tmp_path, records=400)
    child = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "audit", "show", str(log), *(["--json"] * json)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()  # what `head -1` does after its line
    err = child.stderr.read().decode()
    child.wait(timeout=60)
    assert first.strip()
    assert err == ""  # no traceback, no "Exception ignored", no "internal error"
    assert child.returncode == SIGPIPE_EXIT


def test_report_out_into_a_directory(tmp_path: Path) -> None:
    _path, log = a_run(tmp_path)
    out = tmp_path / "reports"
    out.mkdir()
    for given in (f"{out}/", str(out)):
        done = runbook_cli("audit", "report", str(log), "--out", given)
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["audit-report.html", "audit-report.md"]


def test_report_out_into_a_missing_directory_is_exit_2(tmp_path: Path) -> None:
    _path, log = a_run(tmp_path)
    done = runbook_cli("audit", "report", str(log), "--out", f"{tmp_path}/nope/")
    assert done.returncode == 2
    assert (
        done.stderr == f"runbook: --out {tmp_path}/nope/: no such directory; nothing was written\n"
    )
    assert not (tmp_path / "nope").exists()


def test_handoff_out_into_a_directory(tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "runbook.toml")
    out = tmp_path / "owner"
    out.mkdir()
    done = runbook_cli("handoff", "--out", f"{out}/", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in out.iterdir()] == ["runbook-handoff.md"]
    assert done.stdout.startswith(f"{out / 'runbook-handoff.md'}: ")
    missing = runbook_cli("handoff", "--out", str(tmp_path / "nope") + "/", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no such directory" in missing.stderr and not (tmp_path / "nope").exists()


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (
            '# mine\nkeymap = { rollback = "ctrl+b" }\nauto_refresh_s = 1\n',
            "settings.toml:3:1: auto_refresh_s: Input should be greater than or equal to 2",
        ),
        (
            "\n\nauto_refersh_s = 5\n",
            "settings.toml:3:1: auto_refersh_s: unknown key (did you mean 'auto_refresh_s'?)",
        ),
        ("[keymap\n", "settings.toml:1:8: invalid TOML"),
        (
            '[keymap]\nrolback = "ctrl+b"\n',
            "settings.toml:2:1: keymap.rolback: no key has this id (did you mean 'rollback'?)",
        ),
        (
            '[keymap]\nhelp = "f1"\nrollback = "q"\n',
            "settings.toml:3:1: keymap.rollback: 'q' is already the key of quit (everywhere)",
        ),
        (
            '[keymap]\nrollback = "a"\n',
            "settings.toml:2:1: keymap.rollback: 'a' is already the key of do_action (step)",
        ),
    ],
    ids=["out-of-range", "misspelt", "not-toml", "unknown-id", "rollback-on-quit", "on-a-step"],
)
def test_a_broken_settings_file_names_the_key_and_stops(
    tmp_path: Path, settings: str, said: str
) -> None:
    path = write_runbook(tmp_path, base_runbook())
    (tmp_path / "settings.toml").write_text(settings)
    env = {"RUNBOOK_SETTINGS": str(tmp_path / "settings.toml")}
    done = runbook_cli("run", "-f", str(path), env=env)
    assert done.returncode == 2
    assert said in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runbook.toml", "settings.toml"]
