"""What vpc.cidr_overlap reads and how it judges a mitigation (helpers, not a check).

PrivateLink is in place when an `available` interface endpoint in the target VPC
connects to the endpoint service the runbook names, and traffic actually uses it:
either private DNS is on (the service's name resolves to the endpoint inside the
VPC) or the named DMS endpoint's server name is one of the endpoint's DNS names.
A transit VPC with NAT is in place when both sides are peered with it (active),
each side routes the transit CIDR through its own peering from a route table a
subnet uses, and a NAT gateway is `available` in the transit VPC.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code

# A block still associating will overlap in a moment; one being removed still
# routes until it is gone. Both count.
_LIVE_STATES = frozenset({"associating", "associated", "disassociating"})

IPv4Net = ipaddress.IPv4Network


@dataclass
class Findings:
    """A mitigation judged: what is missing, what was confirmed, what was seen."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def describe_vpc(ec2: Any, vpc_id: str) -> dict[str, Any] | None:
    try:
        vpcs: list[dict[str, Any]] = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    except ClientError as exc:
        if error_code(exc) == "InvalidVpcID.NotFound":
            return None
        raise
    return vpcs[0] if vpcs else None


def ipv4_blocks(vpc: dict[str, Any]) -> list[IPv4Net]:
    """Every live IPv4 block of a VPC, primary and secondary."""
    blocks: list[IPv4Net] = []
    for assoc in vpc.get("CidrBlockAssociationSet") or []:
        state = str(assoc.get("CidrBlockState", {}).get("State", "associated"))
        if state in _LIVE_STATES and assoc.get("CidrBlock"):
            blocks.append(ipaddress.IPv4Network(assoc["CidrBlock"], strict=False))
    primary = vpc.get("CidrBlock")
    if primary:
        net = ipaddress.IPv4Network(primary, strict=False)
        if net not in blocks:
            blocks.append(net)
    return blocks


# --- PrivateLink ----------------------------------------------------------------


def _dns(name: str) -> str:
    return name.strip().rstrip(".").lower()


def dns_matches(server: str, names: Iterable[str]) -> bool:
    """Whether `server` is one of `names` (case-insensitive; `*.zone` covers any name in it)."""
    host = _dns(server)
    for name in map(_dns, names):
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


def _usable(e: dict[str, Any]) -> bool:
    # The API documents `Available`, the service answers `available`.
    return (
        str(e.get("VpcEndpointType")) == "Interface"
        and str(e.get("State", "")).lower() == "available"
    )


def _private_dns_names(ec2: Any, service: str) -> list[str]:
    """The service's private DNS names, as the consumer account sees them."""
    try:
        details = ec2.describe_vpc_endpoint_services(ServiceNames=[service])["ServiceDetails"]
    except ClientError as exc:
        if error_code(exc) == "InvalidServiceName":
            return []
        raise
    names: set[str] = set()
    for d in details:
        if d.get("ServiceName") != service:
            continue
        names.update(str(p["PrivateDnsName"]) for p in d.get("PrivateDnsNames") or [])
        if d.get("PrivateDnsName"):
            names.add(str(d["PrivateDnsName"]))
    return sorted(names)


def _dms_server_name(dms: Any, endpoint_id: str) -> tuple[bool, str | None]:
    """(found, ServerName) of a DMS endpoint by its identifier."""
    try:
        found = dms.describe_endpoints(Filters=[{"Name": "endpoint-id", "Values": [endpoint_id]}])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundFault":  # AWS's answer to an empty filter
            return False, None
        raise
    for e in found.get("Endpoints", []):
        if e.get("EndpointIdentifier") == endpoint_id:
            return True, e.get("ServerName")
    return False, None


def privatelink_findings(
    ec2: Any,
    dms: Any,
    target_vpc_id: str,
    service: str,
    endpoint_ids: tuple[str, ...],
    dms_endpoint_id: str | None,
) -> Findings:
    """The declared PrivateLink mitigation, read in the target account."""
    out = Findings()
    endpoints: list[dict[str, Any]] = []
    filters = [{"Name": "vpc-id", "Values": [target_vpc_id]}]
    for page in ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=filters):
        endpoints.extend(page.get("VpcEndpoints", []))
    out.evidence["endpoints"] = [
        {
            "id": e["VpcEndpointId"],
            "type": e.get("VpcEndpointType"),
            "service": e.get("ServiceName"),
            "state": e.get("State"),
            "private_dns": bool(e.get("PrivateDnsEnabled")),
            "dns_names": [d.get("DnsName") for d in e.get("DnsEntries") or []],
        }
        for e in endpoints
    ]

    by_id = {e["VpcEndpointId"]: e for e in endpoints}
    for endpoint_id in endpoint_ids:
        e = by_id.get(endpoint_id)
        if e is None:
            out.problems.append(f"{endpoint_id} is not an endpoint in target VPC {target_vpc_id}")
        elif str(e.get("VpcEndpointType")) != "Interface":
            out.problems.append(
                f"{endpoint_id} is a {e.get('VpcEndpointType')} endpoint, not Interface"
            )
        elif e.get("ServiceName") != service:
            out.problems.append(f"{endpoint_id} connects to {e.get('ServiceName')}, not {service}")
        elif not _usable(e):
            out.problems.append(f"{endpoint_id} is {e.get('State')}, not available")
    serving = [e for e in endpoints if e.get("ServiceName") == service and _usable(e)]
    if endpoint_ids:
        serving = [e for e in serving if e["VpcEndpointId"] in endpoint_ids]
    if not serving:
        if not out.problems:
            out.problems.append(
                f"no available interface endpoint for {service} in target VPC {target_vpc_id}"
            )
        return out

    ids = ", ".join(e["VpcEndpointId"] for e in serving)
    names = {str(d["DnsName"]) for e in serving for d in e.get("DnsEntries") or []}
    private = [e for e in serving if e.get("PrivateDnsEnabled")]
    private_names = _private_dns_names(ec2, service) if private else []
    names.update(private_names)
    out.evidence["dms_endpoint"] = None
    if dms_endpoint_id is not None:
        found, server = _dms_server_name(dms, dms_endpoint_id)
        out.evidence["dms_endpoint"] = {"id": dms_endpoint_id, "server_name": server}
        if not found:
            out.problems.append(f"DMS endpoint {dms_endpoint_id} not found in the target account")
        elif not server:
            out.problems.append(f"DMS endpoint {dms_endpoint_id} has no server name")
        elif dns_matches(server, names):
            out.notes.append(
                f"DMS endpoint {dms_endpoint_id} connects to {server}, a DNS name of {ids}"
            )
        else:
            out.problems.append(
                f"DMS endpoint {dms_endpoint_id} connects to {server}, not a DNS name of {ids} "
                f"({', '.join(sorted(names)) or 'none known'}): its traffic does not go "
                "through PrivateLink"
            )
    elif private:
        out.notes.append(
            f"private DNS is on for {', '.join(e['VpcEndpointId'] for e in private)}: "
            f"{', '.join(private_names) or 'the service private DNS name'} resolves to it "
            "inside the target VPC"
        )
    else:
        out.problems.append(
            f"private DNS is off on {ids} and no DMS endpoint is named, so nothing shows that "
            "traffic uses the endpoint: enable private DNS, or set dms_endpoint_id to the DMS "
            f"endpoint whose server name is one of {', '.join(sorted(names)) or 'its DNS names'}"
        )
    return out


# --- transit VPC with NAT ---------------------------------------------------------


def _describe_peering(ec2: Any, peering_id: str) -> dict[str, Any] | None:
    try:
        found: list[dict[str, Any]] = ec2.describe_vpc_peering_connections(
            VpcPeeringConnectionIds=[peering_id]
        )["VpcPeeringConnections"]
    except ClientError as exc:
        if error_code(exc) == "InvalidVpcPeeringConnectionID.NotFound":
            return None
        raise
    return next((p for p in found if p.get("VpcPeeringConnectionId") == peering_id), None)


def _peerings(
    ec2: Any,
    transit: str,
    peering_ids: tuple[str, ...],
    vpcs: dict[str, str],
    source_account: str,
    out: Findings,
) -> dict[str, str]:
    """Per side ("source", "target"), the active peering linking it to the transit VPC."""
    found: list[dict[str, Any]] = []
    linked: dict[str, str] = {}
    out.evidence["peerings"] = found
    for peering_id in peering_ids:
        pcx = _describe_peering(ec2, peering_id)
        if pcx is None:
            out.problems.append(f"{peering_id} not found from the target account")
            continue
        status = str(pcx.get("Status", {}).get("Code", "unknown"))
        sides = [pcx.get("RequesterVpcInfo", {}), pcx.get("AccepterVpcInfo", {})]
        found.append(
            {
                "id": peering_id,
                "status": status,
                "vpcs": [s.get("VpcId") for s in sides],
                "owners": [s.get("OwnerId") for s in sides],
            }
        )
        if status != "active":
            out.problems.append(f"{peering_id} is {status}, not active")
            continue
        by_vpc = {s.get("VpcId"): s for s in sides}
        if transit not in by_vpc:
            out.problems.append(f"{peering_id} does not involve transit VPC {transit}")
            continue
        other: dict[str, Any] = next((s for v, s in by_vpc.items() if v != transit), {})
        if other.get("VpcId") == vpcs["source"]:
            if other.get("OwnerId") not in (None, source_account):
                out.problems.append(
                    f"{peering_id} peers a {vpcs['source']} owned by {other.get('OwnerId')}, "
                    f"not the source account {source_account}"
                )
                continue
            linked["source"] = peering_id
        elif other.get("VpcId") == vpcs["target"]:
            linked["target"] = peering_id
    for side, vpc_id in vpcs.items():
        if side not in linked:
            out.problems.append(
                f"no active peering between transit VPC {transit} and {side} VPC {vpc_id}"
            )
    return linked


def _in_use(table: dict[str, Any]) -> bool:
    """A route table some subnet uses: the VPC's main table, or one associated with a subnet."""
    return any(
        (a.get("Main") or a.get("SubnetId"))
        and (a.get("AssociationState") or {}).get("State", "associated") == "associated"
        for a in table.get("Associations") or []
    )


def _routes_through(
    ec2: Any, vpc_id: str, pcx: str, blocks: list[IPv4Net]
) -> tuple[list[dict[str, str]], list[str]]:
    """(routes towards `blocks` through `pcx` in tables in use, ids of unused tables with one)."""
    good: list[dict[str, str]] = []
    unused: list[str] = []
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    for page in ec2.get_paginator("describe_route_tables").paginate(Filters=filters):
        for table in page.get("RouteTables", []):
            hits = [
                str(r["DestinationCidrBlock"])
                for r in table.get("Routes") or []
                if r.get("VpcPeeringConnectionId") == pcx
                and r.get("State", "active") == "active"
                and r.get("DestinationCidrBlock")
                and any(
                    ipaddress.IPv4Network(r["DestinationCidrBlock"], strict=False).overlaps(b)
                    for b in blocks
                )
            ]
            if not hits:
                continue
            if _in_use(table):
                good.extend(
                    {"table": table["RouteTableId"], "destination": d, "peering": pcx} for d in hits
                )
            else:
                unused.append(str(table["RouteTableId"]))
    return good, unused


def transit_findings(
    source_ec2: Any,
    target_ec2: Any,
    vpcs: dict[str, str],
    transit: str,
    peering_ids: tuple[str, ...],
    source_account: str,
) -> Findings:
    """The declared transit-VPC mitigation; `vpcs` maps "source"/"target" to VPC ids.

    The transit VPC, its peerings and NAT are read in the target; the source's
    route tables in the source (read only).
    """
    out = Findings()
    linked = _peerings(target_ec2, transit, peering_ids, vpcs, source_account, out)
    transit_vpc = describe_vpc(target_ec2, transit)
    if transit_vpc is None:
        out.problems.append(f"transit VPC {transit} not found in the target account")
        return out
    blocks = ipv4_blocks(transit_vpc)
    cidrs = ", ".join(map(str, blocks))
    out.evidence["transit_cidrs"] = [str(b) for b in blocks]

    routes: dict[str, list[dict[str, str]]] = {}
    clients = {"source": source_ec2, "target": target_ec2}
    for side, pcx in sorted(linked.items()):
        routes[side], unused = _routes_through(clients[side], vpcs[side], pcx, blocks)
        if not routes[side]:
            loose = (
                f" (route table {', '.join(unused)} has one, but no subnet uses it)"
                if unused
                else ""
            )
            out.problems.append(
                f"no route in {side} VPC {vpcs[side]} sends {cidrs} (transit) through {pcx}{loose}"
            )
    out.evidence["routes"] = routes

    filters = [
        {"Name": "vpc-id", "Values": [transit]},
        {"Name": "state", "Values": ["available"]},
    ]
    nats = [
        str(n["NatGatewayId"])
        for page in target_ec2.get_paginator("describe_nat_gateways").paginate(Filter=filters)
        for n in page.get("NatGateways", [])
        if n.get("State") == "available"
    ]
    out.evidence["nat_gateways"] = nats
    if not nats:
        out.problems.append(f"no available NAT gateway in transit VPC {transit}")
    else:
        out.notes.append(f"NAT gateway {', '.join(nats)} available in transit VPC {transit}")
    return out
