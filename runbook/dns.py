"""Route 53 cutover: lower the TTL, flip to the target, roll back to the snapshot.

Facts this respects: `list_resource_record_sets` returns names at or after the
one asked for (filter for the exact name and type); names come back with a
trailing dot and `*` escaped as `\\052`; alias records have no TTL; INSYNC
means Route 53's servers have the change, while resolvers keep the old answer
for the old TTL. Every change is an UPSERT, so repeating one is safe.
"""

from __future__ import annotations

import json
import random
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from runbook.model import Account, AliasFlip, Dns, SimpleFlip, WeightedFlip
from runbook.state import atomic_write

SNAPSHOT_FILE = "dns-snapshot.json"
ROLLBACK_BATCH_FILE = "rollback-change-batch.json"

# The rollback client does no retries of its own: its loop below owns them, so
# a retry quota drained by other clients can never stop a rollback.
ROLLBACK_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},  # max_attempts counts retries only
    connect_timeout=3,
    read_timeout=8,
)

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
    }
)

_ROUTING_KEYS = (
    "SetIdentifier",
    "Weight",
    "Region",
    "Failover",
    "GeoLocation",
    "MultiValueAnswer",
    "HealthCheckId",
    "CidrRoutingConfig",
)


class DnsError(RuntimeError):
    """A DNS action cannot go ahead; nothing was sent."""


def normalize_name(name: str) -> str:
    name = name.replace("\\052", "*").lower()
    return name if name.endswith(".") else name + "."


def zone_id(raw: str) -> str:
    return raw.rsplit("/", 1)[-1]


def canonical_set(record_set: dict[str, Any]) -> dict[str, Any]:
    """A comparable form: normalised names, sorted values, no read-only fields."""
    out: dict[str, Any] = {
        "Name": normalize_name(record_set["Name"]),
        "Type": record_set["Type"],
    }
    if "AliasTarget" in record_set:
        alias = record_set["AliasTarget"]
        out["AliasTarget"] = {
            "HostedZoneId": alias["HostedZoneId"],
            "DNSName": normalize_name(alias["DNSName"]),
            "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth", False)),
        }
    else:
        out["TTL"] = record_set.get("TTL")
        out["ResourceRecords"] = sorted(r["Value"] for r in record_set.get("ResourceRecords", []))
    for key in _ROUTING_KEYS:
        if key in record_set:
            out[key] = record_set[key]
    return out


def same_sets(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    def key(s: dict[str, Any]) -> str:
        return json.dumps(canonical_set(s), sort_keys=True)

    return sorted(map(key, left)) == sorted(map(key, right))


def contains_sets(actual: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    have = {json.dumps(canonical_set(s), sort_keys=True) for s in actual}
    return all(json.dumps(canonical_set(s), sort_keys=True) in have for s in wanted)


def read_record_sets(client: Any, zone: str, name: str, rtype: str) -> list[dict[str, Any]]:
    """Every record set with exactly this name and type (weighted ones included)."""
    wanted = normalize_name(name)
    kwargs: dict[str, Any] = {
        "HostedZoneId": zone_id(zone),
        "StartRecordName": wanted,
        "StartRecordType": rtype,
    }
    found: list[dict[str, Any]] = []
    while True:
        page = client.list_resource_record_sets(**kwargs)
        for record_set in page.get("ResourceRecordSets", []):
            if normalize_name(record_set["Name"]) == wanted and record_set["Type"] == rtype:
                found.append(record_set)
            else:
                # Results are sorted from (name, type) on: the first other one ends the run.
                return found
        if not page.get("IsTruncated"):
            return found
        kwargs["StartRecordName"] = page["NextRecordName"]
        kwargs["StartRecordType"] = page.get("NextRecordType", rtype)
        if "NextRecordIdentifier" in page:
            kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        else:
            kwargs.pop("StartRecordIdentifier", None)


def _strip(record_set: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record_set.items() if k != "ResponseMetadata"}


def lowered_sets(
    cfg: Dns, current: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int | None]:
    """Record sets with the TTL lowered to the cutover TTL, and the largest previous TTL."""
    if not current:
        raise DnsError(f"no {cfg.type} record named {cfg.name} in zone {cfg.zone_id}")
    changed = []
    previous: int | None = None
    for record_set in current:
        if "AliasTarget" in record_set:
            continue  # alias records have no settable TTL
        ttl = int(record_set["TTL"])
        previous = max(previous or 0, ttl)
        if ttl > cfg.cutover_ttl:
            changed.append({**_strip(record_set), "TTL": cfg.cutover_ttl})
    return changed, previous


def flipped_sets(cfg: Dns, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record sets the flip UPSERTs, derived from the snapshot."""
    flip = cfg.flip
    name = normalize_name(cfg.name)
    if isinstance(flip, WeightedFlip):
        by_id = {rs.get("SetIdentifier"): rs for rs in current}
        missing = [
            sid
            for sid in (flip.source_set_identifier, flip.target_set_identifier)
            if sid not in by_id
        ]
        if missing:
            raise DnsError(
                f"weighted flip needs both record sets to exist before the flip; missing "
                f"SetIdentifier {', '.join(missing)} on {cfg.name} {cfg.type} "
                "(create the target's set with weight 0 first, so rollback can restore both)"
            )
        return [
            {**_strip(by_id[flip.source_set_identifier]), "Weight": 0},
            {**_strip(by_id[flip.target_set_identifier]), "Weight": flip.target_weight},
        ]
    if any("SetIdentifier" in rs for rs in current):
        raise DnsError(
            f"{cfg.name} {cfg.type} has weighted/routed record sets; use flip mode `weighted`"
        )
    if isinstance(flip, AliasFlip):
        return [
            {
                "Name": name,
                "Type": cfg.type,
                "AliasTarget": {
                    "HostedZoneId": flip.hosted_zone_id,
                    "DNSName": flip.dns_name,
                    "EvaluateTargetHealth": flip.evaluate_target_health,
                },
            }
        ]
    assert isinstance(flip, SimpleFlip)
    return [
        {
            "Name": name,
            "Type": cfg.type,
            "TTL": cfg.cutover_ttl,
            "ResourceRecords": [{"Value": v} for v in flip.values],
        }
    ]


def change_batch(record_sets: list[dict[str, Any]], comment: str) -> dict[str, Any]:
    return {
        "Comment": comment,
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rs} for rs in record_sets],
    }


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
        # atomic_write fsyncs the file and its directory before returning.
        atomic_write(path, json.dumps(self.__dict__, indent=2, default=str).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def take(cls, client: Any, cfg: Dns, account: Account) -> Snapshot:
        sets = [_strip(rs) for rs in read_record_sets(client, cfg.zone_id, cfg.name, cfg.type)]
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


def wait_insync(
    client: Any,
    change_id: str,
    *,
    delay_s: float,
    deadline_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll GetChange with an explicit delay until INSYNC or the deadline; return the status."""
    end = clock() + deadline_s
    while True:
        status = str(client.get_change(Id=change_id)["ChangeInfo"]["Status"])
        if status == "INSYNC" or clock() + delay_s > end:
            return status
        sleep(delay_s)


@dataclass
class ChangeOutcome:
    change_id: str
    status: str
    read_back: list[dict[str, Any]]
    matches: bool


def apply_and_confirm(
    client: Any,
    zone: str,
    cfg_name: str,
    rtype: str,
    record_sets: list[dict[str, Any]],
    *,
    comment: str,
    delay_s: float = 2.0,
    deadline_s: float = 180.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ChangeOutcome:
    """UPSERT in one batch, wait for INSYNC, read back and compare."""
    response = client.change_resource_record_sets(
        HostedZoneId=zone_id(zone), ChangeBatch=change_batch(record_sets, comment)
    )
    change_id = response["ChangeInfo"]["Id"]
    status = wait_insync(client, change_id, delay_s=delay_s, deadline_s=deadline_s, sleep=sleep)
    read_back = read_record_sets(client, zone, cfg_name, rtype)
    return ChangeOutcome(change_id, status, read_back, contains_sets(read_back, record_sets))


# --- rollback ---------------------------------------------------------------


@dataclass
class RollbackResult:
    confirmed: bool
    attempts: int
    message: str
    manual_command: str
    change_id: str | None = None
    read_back: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, BotoConnectionError | HTTPClientError | ReadTimeoutError):
        return True  # connection refused/reset, read/connect timeouts
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in RETRYABLE_CODES or int(status or 0) >= 500
    return False


def manual_command(snapshot: Snapshot, batch_path: Path) -> str:
    parts = [
        "aws",
        "route53",
        "change-resource-record-sets",
        "--hosted-zone-id",
        snapshot.zone_id,
        "--change-batch",
        f"file://{batch_path.resolve()}",
    ]
    profile = snapshot.account.get("profile")
    if profile:
        parts += ["--profile", profile]
    return shlex.join(parts)


def write_rollback_batch(snapshot: Snapshot, state_dir: Path) -> Path:
    path = state_dir / ROLLBACK_BATCH_FILE
    batch = change_batch(snapshot.record_sets, "runbook rollback to pre-flip snapshot")
    atomic_write(path, json.dumps(batch, indent=2).encode("utf-8"))
    return path


def rollback(
    snapshot: Snapshot,
    client: Any,
    *,
    state_dir: Path,
    deadline_s: float = 120.0,
    poll_s: float = 2.0,
    base_backoff_s: float = 0.2,
    max_backoff_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
    on_attempt: Callable[[int, str], None] | None = None,
) -> RollbackResult:
    """UPSERT the snapshot until it is INSYNC and reads back equal, or the deadline passes.

    Only UPSERTs of the saved sets are sent, so every retry is safe to repeat.
    Retries use full jitter (a random wait up to an exponential cap).
    """
    batch_path = write_rollback_batch(snapshot, state_dir)
    command = manual_command(snapshot, batch_path)
    end = clock() + deadline_s
    attempts = 0
    errors: list[str] = []
    change_id: str | None = None
    read_back: list[dict[str, Any]] = []
    while True:
        attempts += 1
        try:
            if change_id is None:
                response = client.change_resource_record_sets(
                    HostedZoneId=snapshot.zone_id,
                    ChangeBatch=change_batch(snapshot.record_sets, "runbook rollback"),
                )
                change_id = str(response["ChangeInfo"]["Id"])
                if on_attempt:
                    on_attempt(attempts, f"change {change_id} accepted")
            status = str(client.get_change(Id=change_id)["ChangeInfo"]["Status"])
            if status == "INSYNC":
                read_back = [
                    _strip(rs)
                    for rs in read_record_sets(
                        client, snapshot.zone_id, snapshot.name, snapshot.type
                    )
                ]
                if same_sets(read_back, snapshot.record_sets):
                    return RollbackResult(
                        True,
                        attempts,
                        "rollback confirmed: records read back equal the snapshot",
                        command,
                        change_id,
                        read_back,
                        errors,
                    )
                errors.append("read-back differs from the snapshot; sending the UPSERT again")
                change_id = None
            delay = poll_s
        except Exception as exc:
            if not is_retryable(exc):
                errors.append(f"{type(exc).__name__}: {exc}")
                return RollbackResult(
                    False,
                    attempts,
                    f"rollback NOT confirmed: {exc}",
                    command,
                    change_id,
                    read_back,
                    errors,
                )
            errors.append(f"attempt {attempts}: {type(exc).__name__}: {exc}")
            if on_attempt:
                on_attempt(attempts, f"retrying after {type(exc).__name__}")
            delay = rng() * min(max_backoff_s, base_backoff_s * 2 ** min(attempts, 10))
        remaining = end - clock()
        if remaining <= 0:
            return RollbackResult(
                False,
                attempts,
                f"rollback NOT confirmed within {deadline_s:.0f}s ({attempts} attempts)",
                command,
                change_id,
                read_back,
                errors,
            )
        sleep(min(delay, remaining))
