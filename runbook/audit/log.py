"""The tamper-evident audit log: JSON lines, hash-chained, fsynced per record.

structlog formats each event (timestamp, redaction); the sink here assigns the
sequence number, chains the hash and writes the line with `os.write` then
`os.fsync` before `record()` returns, so a returned record is durable. An
fsync failure is fatal and never retried: after a failed fsync the kernel may
have dropped the dirty pages, and a retry that "succeeds" would lie.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from runbook.audit.record import GENESIS, canonical, record_hash
from runbook.aws.redact import redact
from runbook.durable import AppendOnlyFile, last_line


class AuditWriteError(RuntimeError):
    """Writing or fsyncing the audit log failed; the tool must stop."""


class AuditCorruptError(RuntimeError):
    """The existing log cannot be appended to safely."""


class _Sink:
    """The structlog 'logger': receives the processed event and makes it durable."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def msg(self, **event: Any) -> dict[str, Any]:
        return self._log._append(event)

    info = warning = error = msg


def _redact_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    redacted: dict[str, Any] = redact(dict(event))
    return redacted


class AuditLog:
    """Append-only writer. Thread-safe; one writer per file."""

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
        self._file = AppendOnlyFile(path)  # drops a torn last line first
        self._read_head()
        torn = self._file.torn
        self._log = structlog.wrap_logger(
            _Sink(self),
            processors=[self._stamp, _redact_processor],
            cache_logger_on_first_use=False,
        )
        if torn is not None:
            self.record(
                "audit.torn_tail_discarded",
                bytes=len(torn),
                sha256=hashlib.sha256(torn).hexdigest(),
                note="an incomplete last line from a crash was never acknowledged; removed",
            )

    def _stamp(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event["time"] = self._clock().astimezone(UTC).isoformat()
        return event

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
            result: dict[str, Any] = self._log.info(event, step=step, details=details)
            return result

    def _append(self, event: dict[str, Any]) -> dict[str, Any]:
        record = {
            "seq": self.seq + 1,
            "time": event["time"],
            "run_id": self.run_id,
            "operator": self.operator,
            "environment": self.environment,
            "step": event.get("step"),
            "event": event["event"],
            "details": event.get("details") or {},
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
            self._file.close()
