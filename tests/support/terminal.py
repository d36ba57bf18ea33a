"""A command on a real pseudo-terminal, as an operator runs it: read what it draws, type keys.

The benchmark (`bench/startup.py`) and the tests read the screen the same way:
`visible()` strips the escape sequences from what the process wrote, which
leaves each line's text as Textual drew it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78NOMc]"
)


def visible(raw: bytes) -> str:
    """What a terminal would show, roughly: the output without its escape sequences."""
    return ESCAPES.sub(b"", raw).decode("utf-8", "replace")


class Terminal:
    """`argv` on a pty of `columns` x `rows`, its own session (killed on close)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        columns: int = 120,
        rows: int = 40,
    ) -> None:
        self.leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
        self.process = subprocess.Popen(
            list(argv),
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(follower)
        self.output = b""

    def read(self, wait: float) -> int | None:
        """Bytes that arrived within `wait` s (0 if none); None once the pty is closed."""
        ready, _, _ = select.select([self.leader], [], [], wait)
        if not ready:
            return 0
        try:
            chunk = os.read(self.leader, 65536)
        except OSError:
            chunk = b""
        self.output += chunk
        return len(chunk) or None

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Until `text` shows on the terminal; an error quoting the screen's tail if not."""
        end = time.monotonic() + timeout
        while text not in visible(self.output[-200_000:]):
            if time.monotonic() > end:
                raise AssertionError(f"{text!r} never showed; saw:\n{self.tail()}")
            if self.read(0.2) is None:
                raise AssertionError(f"exited before showing {text!r}:\n{self.tail()}")

    def send(self, keys: bytes) -> None:
        os.write(self.leader, keys)

    def wait_exit(self, timeout: float = 60) -> int:
        """The exit code, reading the pty meanwhile (a full pty would block the process)."""
        end = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < end:
            if self.read(0.1) is None:
                break
        code = self.process.wait(timeout=max(0.1, end - time.monotonic()))
        while self.read(0.05):  # what it printed after leaving the screen
            pass
        return code

    def tail(self, chars: int = 1500) -> str:
        return visible(self.output)[-chars:]

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.leader)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
