"""`runbook demo --serve`: other shells drive the demo with nothing but the printed exports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runbook.audit.verify import verify
from runbook.demo.serve import SERVE_FILE, decide, read_served

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "runbook.cli"]


def exports_of(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        if line.startswith("export "):
            name, _, value = line.strip().removeprefix("export ").partition("=")
            env[name] = value.strip("'")
    return env


@pytest.mark.long
@pytest.mark.slow
def test_serve_then_check_do_rollback_verify_from_another_shell(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    server = subprocess.Popen(
        [*CLI, "demo", "--serve", "--dir", str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        printed: list[str] = []
        while not printed or "ctrl+c stops it" not in printed[-1]:
            line = server.stdout.readline()
            assert line, f"the server ended early: {printed}"
            printed.append(line)
        exported = exports_of(printed)
        assert exported["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        # Another shell: nothing but a PATH, a HOME and the printed exports.
        shell_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **exported}
        book = directory / "runbook.toml"

        def shell(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*CLI, *args], cwd=ROOT, env=shell_env, capture_output=True, text=True, timeout=180
            )

        checked = shell("check", "-f", str(book), "--json")
        assert checked.returncode in (0, 1), checked.stderr
        results = {r["check"]: r["status"] for r in json.loads(checked.stdout)}
        assert results["identity.accounts"] == "pass", checked.stdout[:3000]

        steps = tomllib.loads(book.read_text())["steps"]
        for step in steps:
            if step.get("independent") or step.get("after_rollback"):
                continue
            done = shell("do", step["id"], "-f", str(book), "--yes", "--waive", "served test")
            assert done.returncode == 0, (step["id"], done.stdout, done.stderr)
            if step["action"]["kind"] == "dns.flip":
                break
        rolled = shell("rollback", "-f", str(book), "--yes")
        assert rolled.returncode == 0, rolled.stderr
        assert "rollback confirmed" in rolled.stdout
        verified = shell("audit", "verify", str(directory / ".runbook" / "audit.jsonl"))
        assert verified.returncode == 0, verified.stderr
        assert verify(directory / ".runbook" / "audit.jsonl").ok

        # A second `runbook demo` on this directory attaches to the served world ...
        served = decide(directory, fresh=False, serve=False)
        assert served is not None and served.pid == server.pid
        assert served.rebuilt_world().zone_id == tomllib.loads(book.read_text())["dns"]["zone_id"]
        # ... and neither a second server nor a fresh start may take it from under it.
        again = shell("demo", "--serve", "--dir", str(directory))
        assert again.returncode == 2 and f"served by process {server.pid}" in again.stderr
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=60)
    assert server.returncode == 0
    assert "Emulator stopped." in out
    assert read_served(directory) is None and not (directory / SERVE_FILE).exists()
    # Its world is gone with it: the run cannot resume, and says what to do.
    stopped = subprocess.run(
        [*CLI, "demo", "--dir", str(directory)], cwd=ROOT, capture_output=True, text=True
    )
    assert stopped.returncode == 2
    assert "--fresh" in stopped.stderr and "Traceback" not in stopped.stderr
    assert decide(directory, fresh=True, serve=False) is None
