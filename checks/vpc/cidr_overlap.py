"""vpc.cidr_overlap: the source and target VPCs' IPv4 space, and the way around an overlap.

Peering refuses any IPv4 overlap, and a VPC's secondary blocks count as much as
its primary one, so every associated block in `CidrBlockAssociationSet` is
compared, not only `CidrBlock`. An overlap is acceptable only when a mitigation
is declared and verified in place (see `checks.vpc.common`): PrivateLink (an
available interface endpoint in the target VPC for the named endpoint service,
which traffic resolves to: private DNS, or the DMS endpoint's server name) or NAT
through a transit VPC (active peerings to each side, routes from both sides
towards the transit CIDR, an available NAT gateway in it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checks.vpc.common import describe_vpc, ipv4_blocks, privatelink_findings, transit_findings
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

VPC_ID = r"^vpc-[0-9a-f]{8,17}$"
ENDPOINT_ID = r"^vpce-[0-9a-f]{8,17}$"
PEERING_ID = r"^pcx-[0-9a-f]{8,17}$"
DMS_ENDPOINT_ID = r"^[A-Za-z][A-Za-z0-9-]{0,254}$"
EndpointId = Annotated[str, StringConstraints(pattern=ENDPOINT_ID)]
PeeringId = Annotated[str, StringConstraints(pattern=PEERING_ID)]


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
            "privatelink (required): the endpoint service name "
            "(com.amazonaws.vpce.REGION.vpce-svc-...) an available interface endpoint in the "
            "target VPC must connect to."
        ),
    )
    dms_endpoint_id: str | None = Field(
        default=None,
        pattern=DMS_ENDPOINT_ID,
        description=(
            "privatelink: the DMS endpoint (identifier, in the target) that reaches the source "
            "through the interface endpoint; its server name must be one of the endpoint's DNS "
            "names. Without it, the endpoint must have private DNS on."
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
        privatelink = (
            bool(self.endpoint_ids)
            or self.endpoint_service_name is not None
            or self.dms_endpoint_id is not None
        )
        transit = bool(self.peering_ids) or self.transit_vpc_id is not None
        if self.mitigation == "privatelink":
            if self.endpoint_service_name is None:
                # Endpoint ids alone would pass an endpoint to any service.
                raise ValueError(
                    "mitigation `privatelink` needs endpoint_service_name: the service the "
                    "target's interface endpoint must connect to"
                )
            if transit:
                raise ValueError("transit_vpc_id/peering_ids belong to mitigation `transit_nat`")
        elif self.mitigation == "transit_nat":
            if self.transit_vpc_id is None or not self.peering_ids:
                raise ValueError("mitigation `transit_nat` needs transit_vpc_id and peering_ids")
            if privatelink:
                raise ValueError(
                    "endpoint_ids/endpoint_service_name/dms_endpoint_id belong to mitigation "
                    "`privatelink`"
                )
        elif privatelink or transit:
            # Mitigation details with mitigation "none" are almost certainly a
            # forgotten `mitigation = ...`: say so rather than ignore them.
            raise ValueError("mitigation parameters given, but mitigation is `none`")
        if self.source_vpc_id == self.target_vpc_id:
            raise ValueError("source_vpc_id and target_vpc_id are the same VPC")
        return self


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
            "ec2:DescribeVpcEndpointServices",
            "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeRouteTables",
            "ec2:DescribeNatGateways",
            "dms:DescribeEndpoints",
        ),
        remediation=(
            "Peering refuses any IPv4 overlap, secondary blocks included. Re-IP is rarely "
            "possible on the source: expose the few services the target needs through "
            "PrivateLink (an interface endpoint in the target VPC for the source's endpoint "
            "service, with private DNS on or its DNS name as the DMS endpoint's server), or "
            "peer both sides to a transit VPC with a non-overlapping CIDR, route that CIDR "
            "through each side's peering and run a NAT gateway in it; then declare it in "
            "this check's `mitigation` parameters."
        ),
    )
    params_model = CidrOverlapParams

    def run(self, ctx: CheckContext, params: CidrOverlapParams) -> CheckResult:
        source_ec2 = ctx.client("source", "ec2")
        source_vpc = describe_vpc(source_ec2, params.source_vpc_id)
        if source_vpc is None:
            return CheckResult.failed(
                f"source VPC {params.source_vpc_id} not found in the source account"
            )
        target_ec2 = ctx.client("target", "ec2")
        target_vpc = describe_vpc(target_ec2, params.target_vpc_id)
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
            assert params.endpoint_service_name is not None  # the params' validator
            found = privatelink_findings(
                target_ec2,
                ctx.client("target", "dms") if params.dms_endpoint_id else None,
                params.target_vpc_id,
                params.endpoint_service_name,
                params.endpoint_ids,
                params.dms_endpoint_id,
            )
        else:
            assert params.transit_vpc_id is not None  # the params' validator
            found = transit_findings(
                source_ec2,
                target_ec2,
                {"source": params.source_vpc_id, "target": params.target_vpc_id},
                params.transit_vpc_id,
                params.peering_ids,
                ctx.runbook.account("source").account_id,
            )
        problems = found.problems
        evidence.update(found.evidence)
        details.extend(f"mitigation: {n}" for n in found.notes)
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
