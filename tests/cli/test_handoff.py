"""`runbook handoff [-f FILE] [--out FILE]` as a process: exit 0, Markdown to stdout or a file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BUNDLED = Path(__file__).resolve().parents[2] / "runbook.toml"


def handoff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "handoff", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_out_file_and_stdout_say_the_same(tmp_path: Path) -> None:
    shutil.copy(BUNDLED, tmp_path / "runbook.toml")
    out = tmp_path / "owner" / "handoff.md"
    out.parent.mkdir()
    written = handoff("--out", str(out), cwd=tmp_path)  # -f defaults to ./runbook.toml
    assert written.returncode == 0, written.stderr
    assert str(out) in written.stdout and "requests to the source owner" in written.stdout
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Changes to the source account: ")
    assert "arn:aws:iam::111111111111:role/cognito-migration-read" in text
    assert "aws s3api put-bucket-replication" in text and "REVOKE INSERT" in text
    assert list(out.parent.iterdir()) == [out]  # atomic: no temporary file left beside it
    assert not (tmp_path / ".runbook").exists()  # reads the run, never starts one

    printed = handoff("-f", "runbook.toml", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == text


def test_a_bad_runbook_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "runbook.toml"
    bad.write_text("[migration\n")
    done = handoff("-f", str(bad), "--out", str(tmp_path / "x.md"), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and str(bad) in done.stderr
    assert not (tmp_path / "x.md").exists()
