"""The run's action lease: one actor at a time, whoever and wherever it is.

Doing a step's action takes the lease (`lease.json` in the state directory):
holder (local user, STS ARN, host, pid, command), since when, and a heartbeat
renewed while the action runs. A second process is refused with the holder's
name and how long it has held it. A lease whose holder is dead (its pid gone on
this host, or its heartbeat older than `STALE_AFTER_S`) is taken over, and the
caller audits the takeover. Checks need no lease, and rollback never waits for
it: rollback is UPSERT-only and safe to repeat.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runbook.durable import atomic_write
from runbook.formatting import duration

LEASE_FILE = "lease.json"
HEARTBEAT_S = 5.0
MIN_REASON_CHARS = 3  # breaking or taking over a live lease says why
STALE_AFTER_S = 60.0  # a holder on another host is presumed dead after this silence


class LeaseHeld(RuntimeError):
    """Another live actor holds the lease; nothing was done."""


class LeaseChanged(RuntimeError):
    """The lease is no longer held by the holder the caller saw; nothing was done."""

    def __init__(self, now: Holder | None) -> None:
        held = f"now held by {now.describe()}" if now is not None else "nobody holds it now"
        super().__init__(f"the lease changed hands since you looked: {held}")
        self.now = now


def expect(held: Holder | None, token: str | None) -> None:
    """Refuse unless `held` is the holding the caller saw (`token`; None: any)."""
    if token is not None and (held is None or held.token != token):
        raise LeaseChanged(held)


@dataclass(frozen=True)
class Holder:
    local_user: str
    aws_arn: str | None
    host: str
    pid: int
    command: str
    token: str
    since: float
    heartbeat: float

    def describe(self, now: float | None = None) -> str:
        held = duration((now if now is not None else time.time()) - self.since)
        who = self.local_user + (f" ({self.aws_arn})" if self.aws_arn else "")
        return f"{who} on {self.host}, pid {self.pid}, `{self.command}`, for {held}"

    def is_this_process(self) -> bool:
        return self.host == socket.gethostname() and self.pid == os.getpid()

    def alive(self, now: float | None = None) -> bool:
        """Dead if its pid is gone on this host, or its heartbeat is stale anywhere."""
        now = now if now is not None else time.time()
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass  # exists, another user's
        return now - self.heartbeat <= STALE_AFTER_S


def new_holder(local_user: str, aws_arn: str | None, now: float) -> Holder:
    """This process as the lease's holder (the local file and the S3 backend alike)."""
    return Holder(
        local_user=local_user,
        aws_arn=aws_arn,
        host=socket.gethostname(),
        pid=os.getpid(),
        command=" ".join(["runbook", *sys.argv[1:]])[:200],
        token=uuid.uuid4().hex,
        since=now,
        heartbeat=now,
    )


class RunLease:
    """The lease file of one state directory; `hold()` takes it for a block."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LEASE_FILE
        self.lock_path = state_dir / (LEASE_FILE + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def current(self) -> Holder | None:
        """The recorded holder, live or not; None when nobody holds the lease."""
        try:
            raw: dict[str, Any] = json.loads(self.path.read_bytes())
            return Holder(**raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            return None  # an unreadable lease protects nobody: treat it as free

    def acquire(self, *, local_user: str, aws_arn: str | None) -> tuple[Holder, Holder | None]:
        """Take the lease: (the new holding, the dead holder taken over or None)."""
        with self._locked():
            now = time.time()
            previous = self.current()
            if previous is not None and previous.alive(now):
                raise LeaseHeld(f"the run's lease is held by {previous.describe(now)}")
            mine = new_holder(local_user, aws_arn, now)
            self._write(mine)
            return mine, previous

    def renew(self, mine: Holder) -> bool:
        """Heartbeat; False if the lease is no longer ours (broken or taken over)."""
        with self._locked():
            held = self.current()
            if held is None or held.token != mine.token:
                return False
            self._write(Holder(**{**asdict(held), "heartbeat": time.time()}))
            return True

    def release(self, mine: Holder) -> None:
        with self._locked():
            held = self.current()
            if held is not None and held.token == mine.token:
                self.path.unlink()

    def break_(self, expected_token: str | None = None) -> Holder | None:
        """Remove the lease (the audited `runbook lease break`, or a takeover in the app):
        whatever is there, or only the holding the caller saw (`expected_token`)."""
        with self._locked():
            held = self.current()
            expect(held, expected_token)
            self.path.unlink(missing_ok=True)
            return held

    def _write(self, holder: Holder) -> None:
        atomic_write(self.path, json.dumps(asdict(holder), indent=2).encode("utf-8"))

    @contextlib.contextmanager
    def heartbeat(
        self,
        mine: Holder,
        every_s: float = HEARTBEAT_S,
        on_lost: Callable[[], object] = lambda: None,
    ) -> Iterator[None]:
        """Renew the heartbeat in a thread while the block runs, then release.
        `on_lost` is called once if the lease turns out to be someone else's."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                if not self.renew(mine):
                    if not stop.is_set():
                        on_lost()
                    return

        thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(every_s + 1)
            self.release(mine)
