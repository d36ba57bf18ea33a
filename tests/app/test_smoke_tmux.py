"""Smoke test of the real program in a real terminal: `runbook demo` under tmux."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from runbook.audit.verify import verify
from runbook.demo.playbook import load_playbook

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    def __init__(self, command: str) -> None:
        self.name = f"runbook-smoke-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "130", "-y", "40", command],
            check=True,
        )
        # An already-running tmux server may ignore -x/-y; size the window explicitly.
        subprocess.run(
            ["tmux", "resize-window", "-t", self.name, "-x", "130", "-y", "40"],
            capture_output=True,
        )

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name, "-S", "-200"],
            capture_output=True,
            text=True,
        )
        return done.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError(f"{pattern!r} never appeared; screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_demo_in_tmux(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    command = (
        f"cd {ROOT} && {sys.executable} -m runbook.cli demo --dir {demo_dir}; "
        "echo EXITED $?; sleep 60"
    )
    term = Terminal(command)
    try:
        port = int(term.wait_for(r"emulator at http://127\.0\.0\.1:(\d+)").group(1))
        steps = len(load_playbook()["steps"])  # the demo walks the bundled playbook's steps
        term.wait_for(rf"0 of {steps} steps done")
        term.keys("Enter")  # first step: identity gate
        term.wait_for(r"identity\.accounts\s+✓ pass")
        term.keys("a")
        term.wait_for(r"✓ done")
        term.keys("Escape")
        term.wait_for(rf"1 of {steps} steps done")
        term.keys("C-r")  # rollback with nothing flipped yet: says so, sends nothing
        term.wait_for(r"Nothing to roll back")
        term.keys("q")
        term.wait_for(r"EXITED 0", timeout=30)
        assert re.search(r"audit head: seq \d+ hash [0-9a-f]{64}", term.screen())
        assert "Emulator stopped." in term.screen()
    finally:
        term.close()
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the emulator is still listening"
    assert verify(demo_dir / ".runbook" / "audit.jsonl").ok
    assert {p.name for p in demo_dir.iterdir()} == {"runbook.toml", ".runbook"}
