"""vpc.cidr_overlap: the source and target VPCs' IPv4 space, and the way around an overlap.

Peering refuses any IPv4 overlap, and a VPC's secondary blocks count as much as
its primary one, so every associated block in `CidrBlockAssociationSet` is
compared, not only `CidrBlock`. An overlap is acceptable only when a mitigation
is declared and found in place: PrivateLink (interface endpoints in the target
VPC, `available`) or NAT through a transit VPC (active peerings from the
transit VPC to each side).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
ENDPOINT_ID = r"^vpce-[0-9a-f]{8,17}$"
PEERING_ID = r"^pcx-[0-9a-f]{8,17}$"
EndpointId = Annotated[str, StringConstraints(pattern=ENDPOINT_ID)]
PeeringId = Annotated[str, StringConstraints(pattern=PEERING_ID)]

# A block still associating will overlap in a moment; one being removed still
# routes until it is gone. Both count.
_LIVE_STATES = frozenset({"associating", "associated", "disassociating"})

IPv4Net = ipaddress.IPv4Network


class CidrOverlapParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_vpc_id: str = Field(pattern=VPC_ID, description="The workload's VPC in the source.")
    target_vpc_id: str = Field(pattern=VPC_ID, description="The new VPC in the target.")
    mitigation: Literal["none", "privatelink", "transit_nat"] = Field(
        default="none",
        description=(
            "How an overlap is worked around: `privatelink` (interface endpoints in the "
            "target VPC) or `transit_nat` (a transit VPC peered to both sides, NAT inside)."
        ),
    )
    endpoint_ids: tuple[EndpointId, ...] = Field(
        default=(),
        description="privatelink: the target VPC's interface endpoint ids (vpce-...).",
    )
    endpoint_service_name: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "privatelink: the endpoint service name (com.amazonaws.vpce.REGION.vpce-svc-...) "
            "an available interface endpoint in the target VPC must connect to."
        ),
    )
    transit_vpc_id: str | None = Field(
        default=None, pattern=VPC_ID, description="transit_nat: the transit VPC's id."
    )
    peering_ids: tuple[PeeringId, ...] = Field(
        default=(),
        description="transit_nat: the peering connections (pcx-...) of the transit VPC.",
    )

    @model_validator(mode="after")
    def _mitigation_complete(self) -> CidrOverlapParams:
        privatelink = bool(self.endpoint_ids) or self.endpoint_service_name is not None
        transit = bool(self.peering_ids) or self.transit_vpc_id is not None
        if self.mitigation == "privatelink":
            if not privatelink:
                raise ValueError(
                    "mitigation `privatelink` needs endpoint_ids or endpoint_service_name"
                )
            if transit:
                raise ValueError("transit_vpc_id/peering_ids belong to mitigation `transit_nat`")
        elif self.mitigation == "transit_nat":
            if self.transit_vpc_id is None or not self.peering_ids:
                raise ValueError("mitigation `transit_nat` needs transit_vpc_id and peering_ids")
            if privatelink:
                raise ValueError(
                    "endpoint_ids/endpoint_service_name belong to mitigation `privatelink`"
                )
        elif privatelink or transit:
            # Mitigation details with mitigation "none" are almost certainly a
            # forgotten `mitigation = ...`: say so rather than ignore them.
            raise ValueError("mitigation parameters given, but mitigation is `none`")
        if self.source_vpc_id == self.target_vpc_id:
            raise ValueError("source_vpc_id and target_vpc_id are the same VPC")
        return self


def _describe_vpc(ec2: Any, vpc_id: str) -> dict[str, Any] | None:
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


def _privatelink_problems(
    ec2: Any, params: CidrOverlapParams
) -> tuple[list[str], list[dict[str, Any]]]:
    """What is missing from the declared PrivateLink mitigation, and what was found."""
    endpoints: list[dict[str, Any]] = []
    paginator = ec2.get_paginator("describe_vpc_endpoints")
    filters = [{"Name": "vpc-id", "Values": [params.target_vpc_id]}]
    for page in paginator.paginate(Filters=filters):
        endpoints.extend(page.get("VpcEndpoints", []))
    by_id = {e["VpcEndpointId"]: e for e in endpoints}
    found = [
        {
            "id": e["VpcEndpointId"],
            "type": e.get("VpcEndpointType"),
            "service": e.get("ServiceName"),
            "state": e.get("State"),
        }
        for e in endpoints
    ]

    def usable(e: dict[str, Any]) -> bool:
        # The API documents `Available`, the service answers `available`.
        return (
            str(e.get("VpcEndpointType")) == "Interface"
            and str(e.get("State", "")).lower() == "available"
        )

    problems: list[str] = []
    for endpoint_id in params.endpoint_ids:
        e = by_id.get(endpoint_id)
        if e is None:
            problems.append(
                f"{endpoint_id} is not an endpoint in target VPC {params.target_vpc_id}"
            )
        elif str(e.get("VpcEndpointType")) != "Interface":
            problems.append(
                f"{endpoint_id} is a {e.get('VpcEndpointType')} endpoint, not Interface"
            )
        elif not usable(e):
            problems.append(f"{endpoint_id} is {e.get('State')}, not available")
    name = params.endpoint_service_name
    if name is not None and not any(e.get("ServiceName") == name and usable(e) for e in endpoints):
        problems.append(
            f"no available interface endpoint for {name} in target VPC {params.target_vpc_id}"
        )
    return problems, found


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


def _transit_problems(
    ec2: Any, params: CidrOverlapParams, source_account: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """What is missing from the declared transit-VPC mitigation, and what was found."""
    transit = params.transit_vpc_id
    problems: list[str] = []
    found: list[dict[str, Any]] = []
    linked: set[str] = set()
    for peering_id in params.peering_ids:
        pcx = _describe_peering(ec2, peering_id)
        if pcx is None:
            problems.append(f"{peering_id} not found from the target account")
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
            problems.append(f"{peering_id} is {status}, not active")
            continue
        vpcs = {s.get("VpcId"): s for s in sides}
        if transit not in vpcs:
            problems.append(f"{peering_id} does not involve transit VPC {transit}")
            continue
        other: dict[str, Any] = next((s for v, s in vpcs.items() if v != transit), {})
        if other.get("VpcId") == params.source_vpc_id:
            if other.get("OwnerId") not in (None, source_account):
                problems.append(
                    f"{peering_id} peers a {params.source_vpc_id} owned by "
                    f"{other.get('OwnerId')}, not the source account {source_account}"
                )
                continue
            linked.add("source")
        elif other.get("VpcId") == params.target_vpc_id:
            linked.add("target")
    for side, vpc_id in (("source", params.source_vpc_id), ("target", params.target_vpc_id)):
        if side not in linked:
            problems.append(
                f"no active peering between transit VPC {transit} and {side} VPC {vpc_id}"
            )
    return problems, found


class CidrOverlapCheck(Check[CidrOverlapParams]):
    meta = CheckMeta(
        id="vpc.cidr_overlap",
        title="Source and target VPC address space does not collide (or the collision is bridged)",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=(
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeVpcPeeringConnections",
        ),
        remediation=(
            "Peering refuses any IPv4 overlap, secondary blocks included. Re-IP is rarely "
            "possible on the source: expose the few services the target needs through "
            "PrivateLink (interface endpoints in the target VPC), or peer both sides to a "
            "transit VPC with a non-overlapping CIDR and NAT there; then declare it in this "
            "check's `mitigation` parameters."
        ),
    )
    params_model = CidrOverlapParams

    def run(self, ctx: CheckContext, params: CidrOverlapParams) -> CheckResult:
        source_vpc = _describe_vpc(ctx.client("source", "ec2"), params.source_vpc_id)
        if source_vpc is None:
            return CheckResult.failed(
                f"source VPC {params.source_vpc_id} not found in the source account"
            )
        target_ec2 = ctx.client("target", "ec2")
        target_vpc = _describe_vpc(target_ec2, params.target_vpc_id)
        if target_vpc is None:
            return CheckResult.failed(
                f"target VPC {params.target_vpc_id} not found in the target account"
            )
        source_blocks = ipv4_blocks(source_vpc)
        target_blocks = ipv4_blocks(target_vpc)
        overlaps = [(s, t) for s in source_blocks for t in target_blocks if s.overlaps(t)]
        evidence: dict[str, Any] = {
            "source_cidrs": [str(b) for b in source_blocks],
            "target_cidrs": [str(b) for b in target_blocks],
            "overlaps": [[str(s), str(t)] for s, t in overlaps],
            "mitigation": params.mitigation,
        }
        details = [
            f"source {params.source_vpc_id}: {', '.join(map(str, source_blocks))}",
            f"target {params.target_vpc_id}: {', '.join(map(str, target_blocks))}",
        ]
        if not overlaps:
            if params.mitigation != "none":
                details.append(f"mitigation {params.mitigation} declared but not needed")
            return CheckResult.passed("no IPv4 overlap between the VPCs", details, **evidence)

        named = ", ".join(f"{s} (source) with {t} (target)" for s, t in overlaps)
        details.extend(f"overlap: {s} (source) with {t} (target)" for s, t in overlaps)
        if params.mitigation == "none":
            return CheckResult.failed(
                f"VPC CIDRs overlap: {named}; no mitigation declared", details, **evidence
            )
        if params.mitigation == "privatelink":
            problems, found = _privatelink_problems(target_ec2, params)
            evidence["endpoints"] = found
        else:
            source_account = ctx.runbook.account("source").account_id
            problems, found = _transit_problems(target_ec2, params, source_account)
            evidence["peerings"] = found
        evidence["mitigation_problems"] = problems
        if problems:
            details.extend(f"mitigation: {p}" for p in problems)
            return CheckResult.failed(
                f"VPC CIDRs overlap ({named}) and the {params.mitigation} mitigation is not "
                f"in place: {problems[0]}",
                details,
                **evidence,
            )
        details.append(f"mitigation {params.mitigation} in place")
        return CheckResult.passed(
            f"VPC CIDRs overlap ({named}), bridged by {params.mitigation}", details, **evidence
        )
