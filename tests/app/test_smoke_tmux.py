"""Smoke test of the real program in a real terminal: `runbook demo` under tmux."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
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
    def __init__(self, command: str, size: tuple[int, int] = (130, 40)) -> None:
        self.name = f"runbook-smoke-{uuid.uuid4().hex[:8]}"
        x, y = str(size[0]), str(size[1])
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", x, "-y", y, command],
            check=True,
        )
        # An already-running tmux server may ignore -x/-y; size the window explicitly.
        subprocess.run(
            ["tmux", "resize-window", "-t", self.name, "-x", x, "-y", y], capture_output=True
        )

    def visible(self) -> list[str]:
        """The pane as it is now, no scrollback."""
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return done.stdout.splitlines()

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


@pytest.mark.long
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
        term.keys("q")  # the demo's world ends with the app: it asks first
        term.wait_for(r"cannot be resumed")
        term.keys("y")
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


@pytest.mark.long
def test_demo_in_tmux_at_80x24(tmp_path: Path) -> None:
    """Every screen at 80x24: the header keeps the region, both IDs and the audit head,
    the DNS line is under it, the footer starts with the keys that matter."""
    demo_dir = tmp_path / "demo"
    command = (
        f"cd {ROOT} && {sys.executable} -m runbook.cli demo --dir {demo_dir}; "
        "echo EXITED $?; sleep 60"
    )
    term = Terminal(command, size=(80, 24))
    try:
        steps = len(load_playbook()["steps"])
        term.wait_for(rf"0 of {steps} steps done", timeout=180)  # two cores, shared
        book = tomllib.loads((demo_dir / "runbook.toml").read_text())
        source, target = book["accounts"]["source"], book["accounts"]["target"]

        def escape() -> None:
            """Escape, then a pause: escape and the next key at once read as alt+key."""
            term.keys("Escape")
            time.sleep(1)

        def chrome(footer: str) -> list[str]:
            """The screen once its footer settled (a loaded machine draws late)."""
            end = time.monotonic() + 30
            pane = term.visible()
            while not re.match(footer, pane[-1].strip()) and time.monotonic() < end:
                time.sleep(0.3)
                pane = term.visible()
            header = pane[0]
            for wanted in (source["account_id"], target["account_id"], source["region"]):
                assert wanted in header, f"{wanted} missing from the header: {header!r}"
            assert re.search(r"#\d+ [0-9a-f]{12}", header), header
            assert pane[1].startswith(" DNS app.example.com A"), pane[1]
            assert re.match(footer, pane[-1].strip()), pane[-1]
            return pane

        pane = chrome(r"\^r Rollback DNS ⏎ Open step q Quit \? Help")
        assert any("· pending" in line for line in pane)  # the status column is whole
        term.keys("Enter")  # the first step: identity gate
        term.wait_for(r"identity\.accounts\s+✓ pass\s+\d+s ago")
        chrome(r"\^r Rollback DNS a Do action esc Back q Quit \? Help")
        term.keys("v")
        term.wait_for(r"Chain: intact")
        chrome(r"\^r Rollback DNS esc Back q Quit \? Help")
        escape()
        term.keys("?")
        term.wait_for(r"Keys \(remap")
        chrome(r"\^r Rollback DNS esc Close")
        escape()
        term.keys("o")
        term.wait_for(r"changes for the owner")
        chrome(r"\^r Rollback DNS esc Back q Quit \? Help")
        escape()
        term.wait_for(r"Checks")
        escape()
        term.wait_for(rf"of {steps} steps done")
        term.keys("q")  # the demo's world ends with the app: it asks first
        term.wait_for(r"cannot be resumed")
        term.keys("y")
        term.wait_for(r"EXITED 0", timeout=30)
    finally:
        term.close()
