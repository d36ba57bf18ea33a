"""dms.network_path: the source DB's security groups admit DMS, exactly and no wider.

Without peering (seed 003), DMS in the target reaches the source database over
its public address: the database's VPC security groups must admit the
replication instance's public IP or, when DMS sits behind NAT, the target's NAT
gateways' public IPs, each as a /32 on the database port only. A rule that
opens that port to 0.0.0.0/0, or admits these addresses through a CIDR wider
than /32 or on more ports than the database's, fails: it is the "endpoint on
the internet" the seed warns against.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checks.dms.common import (
    DmsAccount,
    Missing,
    TaskRef,
    describe_instance,
    describe_task,
    source_db_of_task,
)
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

NatGatewayId = Annotated[str, StringConstraints(pattern=r"^nat-[0-9a-f]{8,17}$")]
_WORLD = {"0.0.0.0/0", "::/0"}


class NetworkPathParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The replication task's identifier or ARN.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")
    nat_gateway_ids: tuple[NatGatewayId, ...] = Field(
        default=(),
        description=(
            "DMS egresses through these NAT gateways (in the DMS account): their public IPs "
            "must be admitted instead of the replication instance's."
        ),
    )
    nat_vpc_id: str | None = Field(
        default=None,
        pattern=r"^vpc-[0-9a-f]{8,17}$",
        description="Or: every available NAT gateway in this VPC (in the DMS account).",
    )
    alias_for: str | None = Field(
        default=None,
        min_length=1,
        description="The RDS hostname the source endpoint's ServerName stands for, if an alias.",
    )

    @model_validator(mode="after")
    def _one_nat_source(self) -> NetworkPathParams:
        if self.nat_gateway_ids and self.nat_vpc_id is not None:
            raise ValueError("give nat_gateway_ids or nat_vpc_id, not both")
        return self


def _nat_ips(ctx: CheckContext, params: NetworkPathParams) -> tuple[list[str], list[str]]:
    """(public IPs of the NAT gateways, problems finding them)."""
    ec2 = ctx.client(params.account, "ec2")
    if params.nat_gateway_ids:
        kwargs: dict[str, Any] = {
            "Filter": [{"Name": "nat-gateway-id", "Values": list(params.nat_gateway_ids)}]
        }
    else:
        kwargs = {"Filter": [{"Name": "vpc-id", "Values": [str(params.nat_vpc_id)]}]}
    gateways: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_nat_gateways").paginate(**kwargs):
        gateways.extend(page.get("NatGateways", []))
    problems: list[str] = []
    ips: list[str] = []
    seen = {g["NatGatewayId"]: g for g in gateways}
    for gid in params.nat_gateway_ids:
        if gid not in seen:
            problems.append(f"NAT gateway {gid} not found in the {params.account} account")
    for g in gateways:
        if g.get("State") != "available":
            if params.nat_gateway_ids:
                problems.append(f"NAT gateway {g['NatGatewayId']} is {g.get('State')}")
            continue
        ips.extend(
            str(a["PublicIp"]) for a in g.get("NatGatewayAddresses", []) if a.get("PublicIp")
        )
    if not ips and not problems:
        where = params.nat_vpc_id or ", ".join(params.nat_gateway_ids)
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
    """({ip: groups admitting it exactly}, [rules that open the port too wide])."""
    exact: dict[str, list[str]] = {ip: [] for ip in ips}
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
                if cidr in _WORLD:
                    wide.append(f"{gid}: {_ports(rule)} open to {cidr}")
                    continue
                net = ipaddress.ip_network(cidr, strict=False)
                for ip, addr in zip(ips, addresses, strict=True):
                    if addr.version != net.version or addr not in net:
                        continue
                    if net.num_addresses > 1:
                        wide.append(f"{gid}: admits {ip} through {cidr}, wider than /32")
                    elif not only_port:
                        wide.append(f"{gid}: admits {ip} on {_ports(rule)}, not only tcp {port}")
                    else:
                        exact[ip].append(gid)
    return exact, wide


class NetworkPathCheck(Check[NetworkPathParams]):
    meta = CheckMeta(
        id="dms.network_path",
        title="Source DB security groups admit DMS's public IP, on the DB port, as a /32",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=(
            "dms:DescribeReplicationTasks",
            "dms:DescribeReplicationInstances",
            "dms:DescribeEndpoints",
            "ec2:DescribeNatGateways",
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusters",
            "ec2:DescribeSecurityGroups",
        ),
        remediation=(
            "The source is read-only to this tool: ask its owners to add an inbound rule to "
            "the database's security group for each DMS egress IP (the replication instance's "
            "public IP, or the target's NAT gateways' public IPs) as a /32 on the database port "
            "only, and to remove any rule opening that port to 0.0.0.0/0 or a wider range."
        ),
    )
    params_model = NetworkPathParams

    def run(self, ctx: CheckContext, params: NetworkPathParams) -> CheckResult:
        try:
            task = describe_task(ctx, params.account, params.task_id)
            instance = describe_instance(ctx, params.account, str(task["ReplicationInstanceArn"]))
            _, db = source_db_of_task(ctx, params.account, task, params.alias_for)
        except Missing as exc:
            return CheckResult.failed(str(exc))

        if params.nat_gateway_ids or params.nat_vpc_id:
            egress = "NAT gateway"
            ips, problems = _nat_ips(ctx, params)
            if problems:
                return CheckResult.failed(problems[0], problems, nat_ips=ips)
        else:
            egress = "replication instance"
            ips = [str(ip) for ip in instance.get("ReplicationInstancePublicIpAddresses") or []]
            single = instance.get("ReplicationInstancePublicIpAddress")
            if not ips and single:
                ips = [str(single)]
            if not ips:
                return CheckResult.failed(
                    f"replication instance {instance['ReplicationInstanceIdentifier']} has no "
                    "public IP: if it egresses through NAT, set nat_gateway_ids or nat_vpc_id"
                )
        port = db.port
        if port is None:
            return CheckResult.failed(f"source database {db.name} reports no port")
        group_ids = db.security_group_ids
        if not group_ids:
            return CheckResult.failed(f"source database {db.name} has no VPC security group")
        groups: list[dict[str, Any]] = ctx.client("source", "ec2").describe_security_groups(
            GroupIds=group_ids
        )["SecurityGroups"]

        exact, wide = evaluate(groups, port, ips)
        missing = [ip for ip, by in exact.items() if not by]
        evidence: dict[str, Any] = {
            "egress": egress,
            "egress_ips": ips,
            "db": db.name,
            "port": port,
            "security_groups": group_ids,
            "admitted": {ip: by for ip, by in exact.items() if by},
            "missing": missing,
            "too_wide": wide,
        }
        details = [
            f"{ip}/32 on tcp {port}: " + (f"admitted by {', '.join(by)}" if by else "MISSING")
            for ip, by in exact.items()
        ]
        details.extend(f"too wide: {w}" for w in wide)
        if missing or wide:
            parts = []
            if missing:
                parts.append(f"no /32 rule on tcp {port} for {egress} IP(s) {', '.join(missing)}")
            if wide:
                parts.append(f"too wide: {'; '.join(wide)}")
            return CheckResult.failed(
                f"{db.name} security groups: {'; '.join(parts)}", details, **evidence
            )
        return CheckResult.passed(
            f"{db.name} admits {egress} IP(s) {', '.join(ips)} as /32 on tcp {port} only",
            details,
            **evidence,
        )
