"""Local first, then S3: the audit sink that copies each local record into the shared chain.

Every record is written and fsynced to the local log first (that is when it is
acknowledged), then pushed by a background thread into the shared chain in S3.
The writer waits for its push a few seconds at most: a slow or unreachable S3
never holds an action, a rollback least of all. Records not pushed (S3 down,
the process ended, a local-first command such as `runbook rollback`) stay
pending in the local log and are pushed later, by this thread when S3 answers
again or by `runbook sync`, each marked `late` with when it was written and why
it arrived late. `s3-pushed.jsonl` beside the log maps local seq to shared seq,
so nothing is pushed twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.audit.verify import read_records
from runbook.backend.chain import SharedChain
from runbook.backend.store import BackendError, BackendUnavailable, Conflict
from runbook.durable import AppendOnlyFile, create_exclusive

PUSHED_FILE = "s3-pushed.jsonl"
LATE_FILE = "s3-late.jsonl"  # why a record stayed local, for whichever process pushes it
WRITER_FILE = "writer.id"
WAIT_S = 3.0  # the longest a record's writer waits for its push
RETRY_S = 10.0  # how often an unreachable S3 is tried again in the background
NOT_PUSHED = (
    "not pushed when written: S3 was unreachable, the writing process ended first, "
    "or it was a local-first command (runbook rollback)"
)


def writer_id(state_dir: Path) -> str:
    """This state directory's name in the shared log (`origin.writer` of its records)."""
    path = state_dir / WRITER_FILE
    with contextlib.suppress(FileExistsError):
        create_exclusive(path, uuid.uuid4().hex[:12].encode())
    return path.read_text().strip()


@dataclass(frozen=True)
class SyncResult:
    pushed: int
    pending: int
    error: str | None


class S3AuditSink:
    """An `AuditLog` sink: `push(record)` after the local fsync, `close()` at the end."""

    def __init__(
        self,
        chain: SharedChain,
        audit_path: Path,
        *,
        run_id: str,
        before_push: Callable[[dict[str, Any]], None] | None = None,
        wait_s: float = WAIT_S,
        retry_s: float = RETRY_S,
    ) -> None:
        self.chain = chain
        self.audit_path = audit_path
        self.run_id = run_id
        self.writer = writer_id(audit_path.parent)
        self.before_push = before_push  # e.g. the DNS snapshot goes up before its record
        self.wait_s = wait_s
        self.retry_s = retry_s
        self._index = AppendOnlyFile(audit_path.parent / PUSHED_FILE)
        self._late_path = audit_path.parent / LATE_FILE
        self._cond = threading.Condition()
        # (record, why it is late or None), oldest first
        self._queue: list[tuple[dict[str, Any], str | None]] = []
        self._pushed: set[int] = set()
        self.degraded: str | None = None  # why S3 is presumed unreachable, while it is
        self._retry_at = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None

    # --- the AuditLog hook --------------------------------------------------

    def push(self, record: dict[str, Any]) -> None:
        """Queue a locally durable record; wait a little for it to reach S3."""
        with self._cond:
            stuck_ahead = bool(self._queue)  # then a push is in flight: S3 may be slow
            late = f"S3 did not answer: {self.degraded}" if self.degraded is not None else None
            self._queue.append((record, late))
            if late is not None:
                self._note_late([record["seq"]], late)
            self._start()
            self._cond.notify_all()
            if self.degraded is None and not stuck_ahead:
                self._cond.wait_for(
                    lambda: record["seq"] in self._pushed or self.degraded is not None,
                    timeout=self.wait_s,
                )

    def flush(self, timeout: float) -> bool:
        """Wait until every queued record is pushed; False if S3 did not take them in time."""
        with self._cond:
            if self._queue:
                self._start()
            return (
                self._cond.wait_for(
                    lambda: not self._queue or self.degraded is not None, timeout=timeout
                )
                and not self._queue
            )

    def close(self, timeout: float = WAIT_S) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._index.close()

    def catch_up(self) -> None:
        """Queue the local records that never reached S3 (they are pushed as late)."""
        pending = self.pending()
        with self._cond:
            queued = {r["seq"] for r, _late in self._queue}
            why = self._late_reasons()
            self._queue[:0] = [
                (r, why.get(r["seq"], NOT_PUSHED)) for r in pending if r["seq"] not in queued
            ]
            self._start()
            self._cond.notify_all()

    # --- pushing ------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-s3", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or bool(self._queue))
                if self._closed:
                    return
                delay = self._retry_at - time.monotonic()
                if self.degraded is not None and delay > 0:
                    self._cond.wait(delay)
                    continue
                record, late = self._queue[0]
            try:
                self._push_one(record, late)
            except (BackendUnavailable, BackendError, Conflict) as exc:
                with self._cond:
                    self.degraded = str(exc)
                    why = f"S3 did not take it: {exc}"
                    self._queue = [(r, was or why) for r, was in self._queue]
                    self._note_late([r["seq"] for r, was in self._queue if was == why], why)
                    self._retry_at = time.monotonic() + self.retry_s
                    self._cond.notify_all()
                continue
            with self._cond:
                self._queue.pop(0)
                self._pushed.add(record["seq"])
                self.degraded = None
                self._cond.notify_all()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[dict[int, int]]:
        """The pushers of this state directory push one at a time; the index as it is now."""
        with self._index.exclusive():
            yield self._read_index()

    def _read_index(self) -> dict[int, int]:
        done: dict[int, int] = {}
        with open(self._index.path, "rb") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and line.endswith(b"\n"):
                    done[int(parts[0])] = int(parts[1])
        return done

    def _push_one(self, record: dict[str, Any], late: str | None) -> None:
        with self._exclusive() as done:
            if record["seq"] in done:  # another process of this directory pushed it
                return
            if self.before_push is not None:
                self.before_push(record)
            details = dict(record.get("details") or {})
            details["origin"] = {
                "writer": self.writer,
                "local_seq": record["seq"],
                "local_hash": record["hash"],
            }
            if late is not None:
                details["late"] = {
                    "written_at": record["time"],
                    "pushed_at": datetime.now(UTC).isoformat(),
                    "reason": late,
                }
            shared = self.chain.append(
                {
                    "time": record["time"],
                    "run_id": self.run_id,
                    "operator": record["operator"],
                    "environment": record["environment"],
                    "step": record["step"],
                    "event": record["event"],
                    "details": details,
                }
            )
            self._index.append(f"{record['seq']} {shared['seq']}\n".encode(), sync=True)

    def _note_late(self, seqs: list[int], why: str) -> None:
        """Best effort, not fsynced: losing it loses only the detail of why."""
        with contextlib.suppress(OSError), open(self._late_path, "a", encoding="utf-8") as out:
            out.writelines(json.dumps({"seq": seq, "reason": why}) + "\n" for seq in seqs)

    def _late_reasons(self) -> dict[int, str]:
        found: dict[int, str] = {}
        with contextlib.suppress(OSError), open(self._late_path, encoding="utf-8") as lines:
            for line in lines:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    entry = json.loads(line)
                    found[int(entry["seq"])] = str(entry["reason"])
        return found

    def pending(self) -> list[dict[str, Any]]:
        """Local records that are not in the shared chain yet, oldest first."""
        if not self.audit_path.exists():
            return []
        with self._exclusive() as done:
            return [r for r in read_records(self.audit_path) if r.get("seq") not in done]

    def sync(self) -> SyncResult:
        """Push every pending record now, in this thread (`runbook sync`)."""
        pushed = 0
        pending = self.pending()
        why = self._late_reasons()
        for record in pending:
            try:
                self._push_one(record, why.get(record["seq"], NOT_PUSHED))
            except (BackendUnavailable, BackendError, Conflict) as exc:
                return SyncResult(pushed, len(pending) - pushed, str(exc))
            pushed += 1
        return SyncResult(pushed, 0, None)
