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
import os
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from runbook.redact import redact

GENESIS = "0" * 64
RECORD_KEYS = (
    "seq",
    "time",
    "run_id",
    "operator",
    "environment",
    "step",
    "event",
    "details",
    "prev_hash",
    "hash",
)


class AuditWriteError(RuntimeError):
    """Writing or fsyncing the audit log failed; the tool must stop."""


class AuditCorruptError(RuntimeError):
    """The existing log cannot be appended to safely."""


def canonical(record: Mapping[str, Any]) -> bytes:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        torn = self._recover_tail()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created:
            fsync_dir(path.parent)
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

    def _recover_tail(self) -> bytes | None:
        """Read the chain's head; drop a torn (never acknowledged) last line."""
        self.seq = 0
        self.head_hash = GENESIS
        if not self.path.exists():
            return None
        data = self.path.read_bytes()
        torn: bytes | None = None
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            torn = data[cut:]
            with open(self.path, "r+b") as handle:
                handle.truncate(cut)
                handle.flush()
                os.fsync(handle.fileno())
            data = data[:cut]
        lines = data.splitlines()
        if lines:
            try:
                last = json.loads(lines[-1])
                self.seq = int(last["seq"])
                self.head_hash = str(last["hash"])
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditCorruptError(
                    f"{self.path}: the last record is unreadable ({exc}); "
                    f"run `runbook audit verify {self.path}`"
                ) from None
        return torn

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
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            self._failed = f"{type(exc).__name__}: {exc}"
            raise AuditWriteError(f"audit log {self.path}: {self._failed}") from exc
        self.seq = record["seq"]
        self.head_hash = record["hash"]
        return record

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int
    head_hash: str | None
    bad_seq: int | None = None
    bad_line: int | None = None
    reason: str | None = None
    torn_tail: bool = False

    def describe(self) -> str:
        if self.ok:
            return f"intact: {self.count} records, head hash {self.head_hash}"
        where = f"seq {self.bad_seq}" if self.bad_seq is not None else f"line {self.bad_line}"
        kind = "torn tail" if self.torn_tail else "broken"
        return f"{kind} at {where} (line {self.bad_line}): {self.reason}"


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line number, bytes, complete) for each line; only the last can be incomplete."""
    data = path.read_bytes()
    parts = data.split(b"\n")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if last and part == b"":
            return
        yield index + 1, part, not last


def verify(path: Path) -> VerifyReport:
    """Walk the chain; name the first bad record and why."""
    expected_seq = 1
    prev = GENESIS
    count = 0
    for number, raw, complete in iter_lines(path):

        def broken(
            reason: str,
            seq: int | None = expected_seq,
            line: int = number,
            head: str = prev,
            good: int = count,
        ) -> VerifyReport:
            return VerifyReport(False, good, head, seq, line, reason)

        if not complete:
            return VerifyReport(
                ok=False,
                count=count,
                head_hash=prev if count else None,
                bad_seq=expected_seq,
                bad_line=number,
                reason=(
                    f"the last line is incomplete ({len(raw)} bytes, no newline): a crash "
                    f"during a write, not tampering; the {count} records before it verify"
                ),
                torn_tail=True,
            )

        try:
            record = json.loads(raw)
        except ValueError:
            return broken("not valid JSON: the record was altered")
        if not isinstance(record, dict) or set(record) != set(RECORD_KEYS):
            return broken("fields added or removed: the record was altered")
        seq = record.get("seq")
        if not isinstance(seq, int):
            return broken("seq is not a number: the record was altered")
        if record_hash(record) != record.get("hash"):
            return broken("hash does not match the contents: the record was altered", seq)
        if seq < expected_seq:
            return broken(
                f"seq {seq} where {expected_seq} was expected: a duplicated or reordered record",
                seq,
            )
        if seq > expected_seq:
            return broken(
                f"seq {seq} where {expected_seq} was expected: "
                f"{seq - expected_seq} record(s) deleted or reordered",
                seq,
            )
        if record.get("prev_hash") != prev:
            return broken(
                "prev_hash does not match the previous record's hash: "
                "a record was inserted, deleted or swapped",
                seq,
            )
        prev = record["hash"]
        expected_seq += 1
        count += 1
    return VerifyReport(ok=True, count=count, head_hash=prev if count else GENESIS)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every complete, parseable record (for display; `verify` says if they are trustworthy)."""
    records = []
    for _number, raw, complete in iter_lines(path):
        if not complete:
            break
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
