"""The DNS snapshot: the record sets as read before the flip, fsynced before it is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.dns.records import DnsError, normalize_name, read_record_sets, strip_set, zone_id
from runbook.durable import create_exclusive
from runbook.model import Account, Dns

SNAPSHOT_FILE = "dns-snapshot.json"


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

    def save(self, path: Path) -> None:
        """Created once, fsynced with its directory; FileExistsError if a snapshot exists."""
        create_exclusive(path, json.dumps(self.__dict__, indent=2, default=str).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def take(cls, client: Any, cfg: Dns, account: Account) -> Snapshot:
        sets = [strip_set(rs) for rs in read_record_sets(client, cfg.zone_id, cfg.name, cfg.type)]
        if not sets:
            raise DnsError(f"no {cfg.type} record named {cfg.name} in zone {cfg.zone_id}")
        return cls(
            zone_id=zone_id(cfg.zone_id),
            name=normalize_name(cfg.name),
            type=cfg.type,
            account_name=cfg.account,
            account=account.model_dump(),
            record_sets=sets,
        )
