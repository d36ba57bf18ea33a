"""Reading and comparing Route 53 record sets.

Facts this respects: `list_resource_record_sets` returns names at or after the
one asked for (filter for the exact name and type); names come back with a
trailing dot and `*` escaped as `\\052`; alias records have no TTL. Every change
is an UPSERT, so repeating one is safe.
"""

from __future__ import annotations

import json
from typing import Any

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


# The record types that send a client somewhere: at the cutover name, every one
# present is snapshotted, flipped and rolled back together. A dual-stack load
# balancer has an A and an AAAA alias; flipping only A would leave IPv6 clients
# (most mobile networks) on the source while the flip reads back "confirmed".
ROUTING_TYPES = ("A", "AAAA", "CNAME", "HTTPS", "SVCB")


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


def read_record_sets(
    client: Any, zone: str, name: str, rtype: str | tuple[str, ...] = ROUTING_TYPES
) -> list[dict[str, Any]]:
    """Every record set with exactly this name and type(s), weighted ones included.

    With several types the listing starts at the name itself: Route 53 sorts by
    name, then type, so all of a name's sets come together and the first other
    name ends the run.
    """
    wanted = normalize_name(name)
    types = (rtype,) if isinstance(rtype, str) else rtype
    kwargs: dict[str, Any] = {"HostedZoneId": zone_id(zone), "StartRecordName": wanted}
    if len(types) == 1:
        kwargs["StartRecordType"] = types[0]
    found: list[dict[str, Any]] = []
    while True:
        page = client.list_resource_record_sets(**kwargs)
        for record_set in page.get("ResourceRecordSets", []):
            if normalize_name(record_set["Name"]) != wanted:
                return found
            if record_set["Type"] in types:
                found.append(record_set)
            elif len(types) == 1:
                return found  # sorted from (name, type) on: the next type ends the run
        if not page.get("IsTruncated"):
            return found
        kwargs["StartRecordName"] = page["NextRecordName"]
        for key, field in (
            ("StartRecordType", "NextRecordType"),
            ("StartRecordIdentifier", "NextRecordIdentifier"),
        ):
            if field in page:
                kwargs[key] = page[field]
            else:
                kwargs.pop(key, None)


def types_of(record_sets: list[dict[str, Any]]) -> tuple[str, ...]:
    """The record types among these sets, in ROUTING_TYPES order."""
    present = {str(rs.get("Type")) for rs in record_sets}
    return tuple(t for t in ROUTING_TYPES if t in present) + tuple(
        sorted(present - set(ROUTING_TYPES))
    )


def strip_set(record_set: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record_set.items() if k != "ResponseMetadata"}


def change_batch(record_sets: list[dict[str, Any]], comment: str) -> dict[str, Any]:
    return {
        "Comment": comment,
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rs} for rs in record_sets],
    }


def describe_set(record_set: dict[str, object]) -> str:
    """One line a person reads: name, type, routing, values or alias target, TTL."""
    parts = [str(record_set.get("Name")), str(record_set.get("Type"))]
    if "SetIdentifier" in record_set:
        parts.append(f"[{record_set['SetIdentifier']} weight {record_set.get('Weight')}]")
    alias = record_set.get("AliasTarget")
    if isinstance(alias, dict):
        parts.append(f"alias → {alias.get('DNSName')}")
    else:
        values = record_set.get("ResourceRecords") or []
        assert isinstance(values, list)
        parts.append(", ".join(str(v.get("Value")) for v in values if isinstance(v, dict)))
        parts.append(f"TTL {record_set.get('TTL')}")
    return " ".join(parts)
