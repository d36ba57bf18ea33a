"""The flip and the TTL change: the sets they UPSERT, sent in one batch and read back.

INSYNC means Route 53's servers have the change, while resolvers keep the old
answer for the old TTL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runbook.dns.records import (
    DnsError,
    canonical_set,
    change_batch,
    contains_sets,
    normalize_name,
    read_record_sets,
    strip_set,
    types_of,
    zone_id,
)
from runbook.model import AliasFlip, Dns, SimpleFlip, WeightedFlip


def lowered_sets(
    cfg: Dns, current: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int | None]:
    """Record sets (every routing type) with the TTL lowered, and the largest previous TTL."""
    if not any(rs["Type"] == cfg.type for rs in current):
        raise DnsError(f"no {cfg.type} record named {cfg.name} in zone {cfg.zone_id}")
    changed = []
    previous: int | None = None
    for record_set in current:
        if "AliasTarget" in record_set:
            continue  # alias records have no settable TTL
        ttl = int(record_set["TTL"])
        previous = max(previous or 0, ttl)
        if ttl > cfg.cutover_ttl:
            changed.append({**strip_set(record_set), "TTL": cfg.cutover_ttl})
    return changed, previous


def flipped_sets(cfg: Dns, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record sets the flip UPSERTs, derived from the snapshot: one or more per type.

    Every routing type present at the name is flipped in the same batch, or the
    flip is refused before anything is sent, naming the type it cannot derive.
    """
    types = types_of(current)
    if cfg.type not in types:
        raise DnsError(f"no {cfg.type} record named {cfg.name} in zone {cfg.zone_id}")
    flip = cfg.flip
    if not isinstance(flip, WeightedFlip) and any("SetIdentifier" in rs for rs in current):
        routed = sorted({rs["Type"] for rs in current if "SetIdentifier" in rs})
        raise DnsError(
            f"{cfg.name} {'/'.join(routed)} has weighted/routed record sets; use flip mode "
            "`weighted`"
        )
    out: list[dict[str, Any]] = []
    for rtype in types:
        of_type = [rs for rs in current if rs["Type"] == rtype]
        out += _flip_type(cfg, rtype, of_type)
    return out


def _refuse(cfg: Dns, rtype: str, why: str) -> DnsError:
    return DnsError(
        f"{cfg.name} also has {rtype} record(s), which would keep sending clients to the "
        f"source after the flip: {why}. Nothing was sent"
    )


def _flip_type(cfg: Dns, rtype: str, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
                f"SetIdentifier {', '.join(missing)} on {cfg.name} {rtype} "
                "(create the target's set with weight 0 first, so rollback can restore both)"
            )
        return [
            {**strip_set(by_id[flip.source_set_identifier]), "Weight": 0},
            {**strip_set(by_id[flip.target_set_identifier]), "Weight": flip.target_weight},
        ]
    if isinstance(flip, AliasFlip):
        if rtype != cfg.type and rtype not in ("A", "AAAA"):
            raise _refuse(
                cfg,
                rtype,
                "an alias flip points A and AAAA at the target; it cannot derive a "
                f"{rtype} value. Remove or replace it by hand before the flip",
            )
        target = {
            "HostedZoneId": flip.hosted_zone_id,
            "DNSName": flip.dns_name,
            "EvaluateTargetHealth": flip.evaluate_target_health,
        }
        return [{"Name": name, "Type": rtype, "AliasTarget": target}]
    assert isinstance(flip, SimpleFlip)
    by_type = {str(t): v for t, v in flip.values_by_type.items()}
    values = flip.values if rtype == cfg.type else by_type.get(rtype)
    if values is None:
        raise _refuse(
            cfg,
            rtype,
            f"the runbook gives no target value for it: add `{rtype} = [...]` to "
            "[dns.flip] values_by_type",
        )
    return [
        {
            "Name": name,
            "Type": rtype,
            "TTL": cfg.cutover_ttl,
            "ResourceRecords": [{"Value": v} for v in values],
        }
    ]


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
    read_back = read_record_sets(client, zone, cfg_name, types_of(record_sets))
    return ChangeOutcome(change_id, status, read_back, contains_sets(read_back, record_sets))


# --- rollback ---------------------------------------------------------------


def already_flipped(cfg: Dns, current: list[dict[str, Any]]) -> bool:
    """Do the live records already say what the flip would send (TTL aside)?"""

    def shape(record_sets: list[dict[str, Any]]) -> list[str]:
        return sorted(
            json.dumps({k: v for k, v in canonical_set(rs).items() if k != "TTL"}, sort_keys=True)
            for rs in record_sets
        )

    wanted = shape(flipped_sets(cfg, current))
    return all(item in shape(current) for item in wanted)
