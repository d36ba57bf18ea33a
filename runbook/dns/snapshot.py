"""The DNS snapshot: the record sets as read before the flip, fsynced before it is sent."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.audit.verify import last_of
from runbook.dns.records import (
    DnsError,
    normalize_name,
    read_record_sets,
    strip_set,
    types_of,
    zone_id,
)
from runbook.durable import create_exclusive
from runbook.files import SHARED_AUDIT_FILE

if TYPE_CHECKING:  # not imported by `runbook rollback`, which reads no model
    from runbook.model import Account, Dns

SNAPSHOT_FILE = "dns-snapshot.json"
SNAPSHOT_FIELDS = ("zone_id", "name", "type", "account_name", "account", "record_sets", "taken_at")


@dataclass
class Snapshot:
    """The record sets as they were before the flip, and how to reach their zone."""

    zone_id: str
    name: str
    type: str
    account_name: str
    account: dict[str, Any]
    record_sets: list[dict[str, Any]]
    taken_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def save(self, path: Path) -> str:
        """Created once, fsynced with its directory; FileExistsError if a snapshot exists.

        Returns the file's SHA-256, which the flip's audit record carries so that a
        rollback can tell the snapshot it is about to send from an edited one.
        """
        data = json.dumps(self.__dict__, indent=2, default=str).encode("utf-8")
        create_exclusive(path, data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        return cls.parse(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def parse(cls, raw: Any) -> Snapshot:
        """From the file's JSON or an audit record's details; ValueError if it is not one."""
        if not isinstance(raw, dict):
            raise ValueError("a snapshot is a JSON object")
        try:
            snapshot = cls(**{f: raw[f] for f in SNAPSHOT_FIELDS if f in raw})
        except TypeError as exc:
            raise ValueError(f"not a DNS snapshot: {exc}") from None
        if not isinstance(snapshot.record_sets, list) or not snapshot.record_sets:
            raise ValueError("a snapshot without record sets")
        if not isinstance(snapshot.account, dict):
            raise ValueError("a snapshot without its account")
        return snapshot

    def record(self, sha256: str) -> dict[str, Any]:
        """What the flip's `dns.snapshot_saved` record carries: enough to roll back from."""
        return {**self.__dict__, "sha256": sha256}

    @property
    def types(self) -> tuple[str, ...]:
        """Every record type the snapshot holds: all are restored, and read back, together."""
        return types_of(self.record_sets)

    @property
    def label(self) -> str:
        """`app.example.com. A+AAAA`, for prompts."""
        return f"{self.name} {'+'.join(self.types) or self.type}"

    @classmethod
    def take(cls, client: Any, cfg: Dns, account: Account) -> Snapshot:
        """Every routing record type at the name, not only `dns.type` (see ROUTING_TYPES)."""
        sets = [strip_set(rs) for rs in read_record_sets(client, cfg.zone_id, cfg.name)]
        if not any(rs["Type"] == cfg.type for rs in sets):
            raise DnsError(f"no {cfg.type} record named {cfg.name} in zone {cfg.zone_id}")
        return cls(
            zone_id=zone_id(cfg.zone_id),
            name=normalize_name(cfg.name),
            type=cfg.type,
            account_name=cfg.account,
            account=account.model_dump(),
            record_sets=sets,
        )


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audited_snapshot(audit_path: Path) -> tuple[Snapshot, str | None] | None:
    """The snapshot as the flip recorded it (and its file's hash), from the audit log."""
    record = last_of(audit_path, "dns.snapshot_saved")
    if record is None or not isinstance(record.get("details"), dict):
        return None
    details = record["details"]
    try:
        return Snapshot.parse(details), details.get("sha256")
    except ValueError:
        return None  # written before the record carried the snapshot whole


class SnapshotUnusable(RuntimeError):
    """Neither the snapshot file nor the audit log's copy of it can be used."""


def trusted_snapshot(path: Path, audit_path: Path | None) -> tuple[Snapshot, str | None]:
    """The snapshot to roll back to, and a note when it is not simply the file.

    The file is sent only if it is the one the flip recorded (same SHA-256). An
    edited file is refused in favour of the audit log's copy; an unreadable
    one too. Without a readable audit log the file is all there is, and the
    note says that it could not be checked: a rollback is never blocked by it.
    """
    audited, audit_problem = None, "it has no readable copy of the snapshot"
    # A team run: the flip may have been on another machine, in the shared chain's mirror.
    logs = [] if audit_path is None else [audit_path, audit_path.with_name(SHARED_AUDIT_FILE)]
    for log in logs:
        try:
            audited = audited_snapshot(log) if log == audit_path or log.is_file() else None
        except OSError as exc:
            audit_problem = f"{type(exc).__name__}: {exc}"
        if audited is not None:
            break
    try:
        from_file = Snapshot.load(path)
        digest = file_sha256(path)
    except FileNotFoundError:
        if audited is None:
            raise
        return audited[0], "the snapshot file is missing; using the audit log's copy"
    except (OSError, ValueError) as exc:
        if audited is None:
            raise SnapshotUnusable(
                f"the snapshot {path} is unreadable ({exc}) and the audit log has no copy "
                f"({audit_problem})"
            ) from None
        return audited[0], f"the snapshot file is unreadable ({exc}); using the audit log's copy"
    if audited is None:
        return (
            from_file,
            f"the snapshot could not be checked against the audit log: {audit_problem}",
        )
    copy, recorded = audited
    if recorded is not None and recorded != digest:
        return copy, (
            f"the snapshot file was changed after the flip (SHA-256 {digest[:12]}, the flip "
            f"recorded {recorded[:12]}): its values are refused; rolling back to the audit "
            f"log's copy. File: {_values(from_file)}; audited: {_values(copy)}"
        )
    return from_file, None


def _values(snapshot: Snapshot) -> str:
    return "; ".join(
        json.dumps(rs.get("ResourceRecords") or rs.get("AliasTarget"), sort_keys=True)
        for rs in snapshot.record_sets
    )
