"""The tamper-evident audit log: JSON lines, hash-chained, fsynced per record.

Any number of processes may append to one log (the app, a headless command in
another shell, a script). Each append takes an exclusive lock on the file,
re-reads the tail for the true last `seq` and hash, writes the line with
`os.write`, fsyncs and releases, so their records form one chain; the lock is
never held across an AWS call. A returned record is durable. An fsync failure
is fatal and never retried: after a failed fsync the kernel may have dropped
the dirty pages, and a retry that "succeeds" would lie.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from runbook.audit.record import GENESIS, canonical, record_hash
from runbook.aws.redact import redact
from runbook.durable import AppendOnlyFile, drop_torn_tail, last_line


class AuditWriteError(RuntimeError):
    """Writing or fsyncing the audit log failed; the tool must stop."""


class AuditCorruptError(RuntimeError):
    """The existing log cannot be appended to safely."""


class AuditSink(Protocol):
    """Where a record goes after the local fsync (the S3 run backend); never fails the write."""

    def push(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class AuditLog:
    """Append-only writer: thread-safe, and safe with other processes appending too."""

    def __init__(
        self,
        path: Path,
        *,
        run_id: str,
        environment: str,
        operator: Mapping[str, Any],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self._clock = clock
        self.run_id = run_id
        self.environment = environment
        self.operator = dict(operator)
        self._lock = threading.RLock()
        self._failed: str | None = None
        self.sinks: list[AuditSink] = []  # after the local record is durable, outside the file lock
        try:
            self._file = AppendOnlyFile(path)  # drops a torn last line first, under the lock
        except OSError as exc:
            raise AuditCorruptError(f"{path}: {exc.strerror or exc}") from None
        try:
            with self._file.exclusive():
                self._read_head()
                if self._file.torn is not None:
                    self._discarded(self._file.torn)
        except BaseException:
            self._file.close()
            raise

    def head(self) -> tuple[int, str]:
        """The true head of the file (seq, hash): other processes may have appended since."""
        with self._lock, self._file.exclusive():
            self._read_head()
            return self.seq, self.head_hash

    def _discarded(self, torn: bytes) -> None:
        """Record a torn last line that was cut (the caller holds the file lock)."""
        self._append(
            "audit.torn_tail_discarded",
            None,
            {
                "bytes": len(torn),
                "sha256": hashlib.sha256(torn).hexdigest(),
                "note": "an incomplete last line from a crash was never acknowledged; removed",
            },
        )

    def _read_head(self) -> None:
        """The chain's head from the last complete line (read from the end of the file)."""
        self.seq = 0
        self.head_hash = GENESIS
        if not self.path.exists():
            return
        line = last_line(self.path)
        if line is None:
            return
        try:
            last = json.loads(line)
            self.seq = int(last["seq"])
            self.head_hash = str(last["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditCorruptError(
                f"{self.path}: the last record is unreadable ({exc}); "
                f"run `runbook audit verify {self.path}`"
            ) from None

    def set_operator(self, **fields: Any) -> None:
        with self._lock:
            self.operator.update(fields)

    def record(self, event: str, *, step: str | None = None, **details: Any) -> dict[str, Any]:
        """Append one record and return it once it is on disk."""
        with self._lock:
            if self._failed is not None:
                raise AuditWriteError(
                    f"audit log unusable after an earlier failure: {self._failed}"
                )
            try:
                with self._file.exclusive():
                    # Another process may have appended, or died mid-line, since our last write.
                    torn = drop_torn_tail(self.path)
                    self._read_head()
                    if torn is not None:
                        self._discarded(torn)
                    record = self._append(event, step, details)
            except OSError as exc:  # the lock or the tail read failed: as fatal as a write
                self._failed = f"{type(exc).__name__}: {exc}"
                raise AuditWriteError(f"audit log {self.path}: {self._failed}") from exc
            for sink in self.sinks:
                sink.push(record)
            return record

    def _append(self, event: str, step: str | None, details: dict[str, Any]) -> dict[str, Any]:
        """Chain and write one record; the caller holds the file lock and read the head."""
        record = {
            "seq": self.seq + 1,
            "time": self._clock().astimezone(UTC).isoformat(),
            "run_id": self.run_id,
            "operator": self.operator,
            "environment": self.environment,
            "step": step,
            "event": event,
            "details": redact(details),
            "prev_hash": self.head_hash,
        }
        # Round-trip through JSON so the hash covers exactly what is stored.
        record = json.loads(canonical(record))
        record["hash"] = record_hash(record)
        line = canonical(record) + b"\n"
        try:
            self._file.append(line, sync=True)
        except OSError as exc:
            self._failed = f"{type(exc).__name__}: {exc}"
            raise AuditWriteError(f"audit log {self.path}: {self._failed}") from exc
        self.seq = record["seq"]
        self.head_hash = record["hash"]
        return record

    def close(self) -> None:
        with self._lock:
            for sink in self.sinks:
                sink.close()
            self._file.close()
