"""Whether DMS can reach its endpoints, as seen from the DMS account (no check lives here).

First what DMS itself found: `DescribeConnections` holds the result of "test
connection" between a replication instance and an endpoint, one of `successful`,
`testing`, `failed` or `deleting` (AWS DMS API reference, Connection.Status).
Where no test has run, the path is reasoned about from what can be read: a
PrivateLink interface endpoint in the DMS account, or the source database's
security groups against DMS's egress addresses. The source is read-only, so the
reasoning ends in what the source's owner must allow, never in a change we make.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from checks.dms.common import DbMatch, DmsAccount, find_db
from runbook.aws.errors import error_code, is_access_denied
from runbook.checkapi import CheckContext

WORLD = {"0.0.0.0/0", "::/0"}
# An interface endpoint's DNS names start with its id: `vpce-<id>-<suffix>[-<az>].vpce-svc-...`.
_VPCE_HOST = re.compile(r"^(vpce-[0-9a-f]{8,17})-[a-z0-9]+")


def connection_tests(
    ctx: CheckContext, account: DmsAccount, instance_arn: str
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """({endpoint ARN: connection}, why the tests could not be read)."""
    dms = ctx.client(account, "dms")
    found: dict[str, dict[str, Any]] = {}
    try:
        # One filter only: the emulator applies the last filter alone when given two.
        pages = dms.get_paginator("describe_connections").paginate(
            Filters=[{"Name": "replication-instance-arn", "Values": [instance_arn]}]
        )
        for page in pages:
            for conn in page.get("Connections", []):
                if conn.get("ReplicationInstanceArn") == instance_arn:
                    found[str(conn.get("EndpointArn"))] = conn
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundFault":
            return {}, None  # no test has ever run from this instance
        if is_access_denied(exc):
            return {}, "access denied to dms:DescribeConnections"
        return {}, f"DescribeConnections failed: {error_code(exc) or exc}"
    except NotImplementedError:  # an emulator without the API
        return {}, "the emulator has no DescribeConnections"
    return found, None


def nat_ips(
    ctx: CheckContext, account: DmsAccount, gateway_ids: tuple[str, ...], vpc_id: str | None
) -> tuple[list[str], list[str]]:
    """(public IPs of the NAT gateways DMS egresses through, problems finding them)."""
    ec2 = ctx.client(account, "ec2")
    name, values = ("nat-gateway-id", list(gateway_ids)) if gateway_ids else ("vpc-id", [vpc_id])
    gateways: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_nat_gateways").paginate(
        Filter=[{"Name": name, "Values": values}]
    ):
        gateways.extend(page.get("NatGateways", []))
    problems: list[str] = []
    ips: list[str] = []
    seen = {g["NatGatewayId"]: g for g in gateways}
    for gid in gateway_ids:
        if gid not in seen:
            problems.append(f"NAT gateway {gid} not found in the {account} account")
    for g in gateways:
        if g.get("State") != "available":
            if gateway_ids:
                problems.append(f"NAT gateway {g['NatGatewayId']} is {g.get('State')}")
            continue
        ips.extend(
            str(a["PublicIp"]) for a in g.get("NatGatewayAddresses", []) if a.get("PublicIp")
        )
    if not ips and not problems:
        where = vpc_id or ", ".join(gateway_ids)
        problems.append(f"no available NAT gateway with a public IP in {where}")
    return sorted(set(ips)), problems


def _covers_port(rule: dict[str, Any], port: int) -> bool:
    protocol = str(rule.get("IpProtocol"))
    if protocol == "-1":
        return True
    if protocol not in ("tcp", "6"):
        return False
    return int(rule.get("FromPort", -1)) <= port <= int(rule.get("ToPort", -1))


def _ports(rule: dict[str, Any]) -> str:
    if str(rule.get("IpProtocol")) == "-1":
        return "all traffic"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return f"tcp {low}" if low == high else f"tcp {low}-{high}"


def evaluate(
    groups: list[dict[str, Any]], port: int, ips: list[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """({ip: groups with a rule admitting it on the port}, [rules wider than needed]).

    A wide rule still admits: it is reported for the source's owner, not failed on.
    """
    admitted: dict[str, list[str]] = {ip: [] for ip in ips}
    wide: list[str] = []
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    for group in groups:
        gid = str(group["GroupId"])
        for rule in group.get("IpPermissions", []):
            if not _covers_port(rule, port):
                continue
            only_port = str(rule.get("IpProtocol")) in ("tcp", "6") and (
                rule.get("FromPort") == rule.get("ToPort") == port
            )
            ranges = [str(r["CidrIp"]) for r in rule.get("IpRanges", [])]
            ranges += [str(r["CidrIpv6"]) for r in rule.get("Ipv6Ranges", [])]
            for cidr in ranges:
                net = ipaddress.ip_network(cidr, strict=False)
                if cidr in WORLD:
                    wide.append(f"{gid}: {_ports(rule)} open to {cidr}")
                for ip, addr in zip(ips, addresses, strict=True):
                    if addr.version != net.version or addr not in net:
                        continue
                    if gid not in admitted[ip]:
                        admitted[ip].append(gid)
                    if cidr in WORLD:
                        continue
                    if net.num_addresses > 1:
                        wide.append(f"{gid}: admits {ip} through {cidr}, wider than /32")
                    elif not only_port:
                        wide.append(f"{gid}: admits {ip} on {_ports(rule)}, not only tcp {port}")
    return admitted, wide


@dataclass
class Reasoning:
    """What can be said of the path to the source endpoint without a connection test."""

    blockers: list[str] = field(default_factory=list)  # the path cannot work as it stands
    notes: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)  # for the source's owner
    evidence: dict[str, Any] = field(default_factory=dict)


def _privatelink(
    ctx: CheckContext, account: DmsAccount, endpoint_id: str, server: str, out: Reasoning
) -> None:
    ec2 = ctx.client(account, "ec2")
    try:
        found = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id]).get("VpcEndpoints", [])
    except ClientError as exc:
        if not error_code(exc).startswith("InvalidVpcEndpointId"):
            raise
        found = []
    if not found:
        out.blockers.append(
            f"ServerName {server} names VPC endpoint {endpoint_id} not found in the "
            f"{account} account"
        )
        return
    vpce = found[0]
    service = str(vpce.get("ServiceName"))
    state = str(vpce.get("State", "unknown"))
    out.evidence["privatelink"] = {"endpoint": endpoint_id, "service": service, "state": state}
    out.notes.append(f"PrivateLink: interface endpoint {endpoint_id} to {service} is {state}")
    if state.lower() != "available":
        out.blockers.append(f"interface endpoint {endpoint_id} is {state}, not available")


def reason_source(
    ctx: CheckContext,
    account: DmsAccount,
    endpoint: dict[str, Any],
    instance: dict[str, Any],
    egress: tuple[str, list[str]] | None,
    alias_for: str | None,
) -> Reasoning:
    """Reason about DMS's path to the source endpoint; `egress` is (kind, public IPs) if known."""
    out = Reasoning()
    server = str(endpoint.get("ServerName") or "")
    vpce = _VPCE_HOST.match(server.lower())
    if vpce:
        _privatelink(ctx, account, vpce.group(1), server, out)
    db = find_db(ctx, alias_for or server) if (alias_for or not vpce) else None
    port = (db.port if db else None) or endpoint.get("Port")
    if db is None:
        if not vpce:
            out.notes.append(
                f"ServerName {server} is no DB endpoint in the source account: the path "
                "cannot be reasoned about (set alias_for to the RDS hostname it stands for)"
            )
        if vpce:
            out.instructions.append(
                "the source owner must let the endpoint service's load balancer reach the "
                f"database on tcp {port} (set alias_for to name the database)"
            )
        return out
    groups = db.security_group_ids
    out.evidence.update({"db": db.name, "port": port, "security_groups": groups})
    where = f"{', '.join(groups) or 'its security group'} (database {db.name})"
    if vpce:
        out.instructions.append(
            "the source owner must let the endpoint service's load balancer reach the "
            f"database on tcp {port}: allow its addresses or security group on {where}"
        )
        return out
    _public_or_private(ctx, db, instance, egress, port, where, out)
    return out


def _public_or_private(
    ctx: CheckContext,
    db: DbMatch,
    instance: dict[str, Any],
    egress: tuple[str, list[str]] | None,
    port: int | None,
    where: str,
    out: Reasoning,
) -> None:
    public = (db.instance or {}).get("PubliclyAccessible")
    private_ips = [str(ip) for ip in instance.get("ReplicationInstancePrivateIpAddresses") or []]
    if port is None:
        out.blockers.append(f"source database {db.name} reports no port")
        return
    if public is not True or egress is None:
        # No public path: DMS needs a private one (peering, transit gateway, VPN) whose
        # routes live partly in the source; say what must hold, judge nothing.
        reason = "is not publicly accessible" if public is not True else "is public"
        out.notes.append(
            f"database {db.name} {reason}: DMS reaches it over a private path only from its "
            f"private address(es) {', '.join(private_ips) or 'unknown'}"
        )
        for ip in private_ips:
            out.instructions.append(
                f"ask the source owner to allow inbound tcp {port} from {ip}/32 on {where}, "
                "with a route back to DMS's subnet"
            )
        return
    kind, ips = egress
    group_ids = db.security_group_ids
    if not group_ids:
        out.blockers.append(f"source database {db.name} has no VPC security group")
        return
    groups: list[dict[str, Any]] = ctx.client("source", "ec2").describe_security_groups(
        GroupIds=group_ids
    )["SecurityGroups"]
    admitted, wide = evaluate(groups, port, ips)
    out.evidence.update({"egress": kind, "egress_ips": ips, "admitted": admitted})
    for ip, by in admitted.items():
        if by:
            out.notes.append(f"{', '.join(by)} admits {ip} ({kind}) on tcp {port}")
        else:
            out.blockers.append(f"no rule on {', '.join(group_ids)} admits {kind} IP {ip}")
            out.instructions.append(
                f"ask the source owner to allow inbound tcp {port} from {ip}/32 on {where}"
            )
    if wide:
        out.evidence["too_wide"] = wide
        out.notes.extend(f"wider than DMS needs (tell the source owner): {w}" for w in wide)
