"""vpc.cidr_overlap against real moto VPCs in two accounts (source reached by assume-role)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.registry import CheckRegistry
from tests.support.checks import run_check
from tests.support.runbooks import SOURCE

CHECK = "vpc.cidr_overlap"
SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


def run(ctx: CheckContext, params: dict[str, Any]) -> CheckResult:
    result: CheckResult = run_check(ctx, CHECK, params)
    return result


@pytest.fixture
def ec2(admin: Any) -> Callable[[str], Any]:
    """`ec2("source")`: one unguarded client per account (building clients is slow)."""
    clients: dict[str, Any] = {}

    def get(account: str) -> Any:
        if account not in clients:
            clients[account] = admin(account).client("ec2")
        return clients[account]

    return get


def make_vpc(ec2: Any, primary: str, *secondary: str) -> str:
    vpc_id: str = ec2.create_vpc(CidrBlock=primary)["Vpc"]["VpcId"]
    for block in secondary:
        ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=block)
    return vpc_id


@dataclass
class Vpcs:
    source: str
    target: str


@pytest.fixture
def overlapping(check_context: CheckContext, ec2: Callable[[str], Any]) -> Vpcs:
    """The playbook's situation: both sides 10.0.0.0/16."""
    return Vpcs(
        source=make_vpc(ec2("source"), "10.0.0.0/16"),
        target=make_vpc(ec2("target"), "10.0.0.0/16"),
    )


def interface_endpoint(ec2: Any, vpc_id: str, cidr: str, service: str = SERVICE) -> str:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    endpoint: str = ec2.create_vpc_endpoint(
        VpcId=vpc_id, ServiceName=service, VpcEndpointType="Interface", SubnetIds=[subnet]
    )["VpcEndpoint"]["VpcEndpointId"]
    return endpoint


def test_disjoint_vpcs_pass_with_secondary_blocks_listed(
    check_context: CheckContext, ec2: Callable[[str], Any]
) -> None:
    source = make_vpc(ec2("source"), "10.0.0.0/16", "10.1.0.0/16")
    target = make_vpc(ec2("target"), "10.2.0.0/16")
    result = run(check_context, {"source_vpc_id": source, "target_vpc_id": target})
    assert result.status == Status.PASS, result
    assert result.evidence["source_cidrs"] == ["10.0.0.0/16", "10.1.0.0/16"]
    assert result.evidence["overlaps"] == []


def test_overlap_in_a_secondary_block_fails_naming_it(
    check_context: CheckContext, ec2: Callable[[str], Any]
) -> None:
    # The primary blocks are disjoint: only comparing CidrBlock would pass this.
    source = make_vpc(ec2("source"), "10.0.0.0/16", "10.1.0.0/16")
    target = make_vpc(ec2("target"), "10.2.0.0/16", "10.1.128.0/17")
    result = run(check_context, {"source_vpc_id": source, "target_vpc_id": target})
    assert result.status == Status.FAIL, result
    assert "10.1.0.0/16 (source) with 10.1.128.0/17 (target)" in result.summary
    assert result.evidence["overlaps"] == [["10.1.0.0/16", "10.1.128.0/17"]]
    assert "10.0.0.0/16" not in result.summary


def test_overlap_without_mitigation_fails(check_context: CheckContext, overlapping: Vpcs) -> None:
    result = run(
        check_context, {"source_vpc_id": overlapping.source, "target_vpc_id": overlapping.target}
    )
    assert result.status == Status.FAIL, result
    assert "10.0.0.0/16 (source) with 10.0.0.0/16 (target)" in result.summary
    assert "no mitigation declared" in result.summary


def test_privatelink_in_place_passes(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    endpoint = interface_endpoint(ec2("target"), overlapping.target, "10.0.1.0/24")
    result = run(
        check_context,
        {
            "source_vpc_id": overlapping.source,
            "target_vpc_id": overlapping.target,
            "mitigation": "privatelink",
            "endpoint_ids": [endpoint],
            "endpoint_service_name": SERVICE,
        },
    )
    assert result.status == Status.PASS, result
    assert "bridged by privatelink" in result.summary
    assert result.evidence["endpoints"][0]["id"] == endpoint


def test_privatelink_declared_but_endpoint_missing_fails(
    check_context: CheckContext, overlapping: Vpcs
) -> None:
    result = run(
        check_context,
        {
            "source_vpc_id": overlapping.source,
            "target_vpc_id": overlapping.target,
            "mitigation": "privatelink",
            "endpoint_ids": ["vpce-0123456789abcdef0"],
        },
    )
    assert result.status == Status.FAIL, result
    assert "not in place" in result.summary
    assert "vpce-0123456789abcdef0 is not an endpoint in target VPC" in result.summary


def test_privatelink_service_served_only_in_another_vpc_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    elsewhere = make_vpc(ec2("target"), "192.168.0.0/16")
    interface_endpoint(ec2("target"), elsewhere, "192.168.1.0/24")
    result = run(
        check_context,
        {
            "source_vpc_id": overlapping.source,
            "target_vpc_id": overlapping.target,
            "mitigation": "privatelink",
            "endpoint_service_name": SERVICE,
        },
    )
    assert result.status == Status.FAIL, result
    assert f"no available interface endpoint for {SERVICE}" in result.summary


def peer(
    ec2: Callable[[str], Any], transit: str, other: str, owner: str | None, accept_in: str | None
) -> str:
    kwargs: dict[str, Any] = {"VpcId": transit, "PeerVpcId": other}
    if owner is not None:
        kwargs["PeerOwnerId"] = owner
    pcx: str = ec2("target").create_vpc_peering_connection(**kwargs)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"
    ]
    if accept_in is not None:
        ec2(accept_in).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    return pcx


def test_transit_nat_in_place_passes(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    transit = make_vpc(ec2("target"), "172.16.0.0/16")
    to_target = peer(ec2, transit, overlapping.target, None, "target")
    to_source = peer(ec2, transit, overlapping.source, SOURCE, "source")
    result = run(
        check_context,
        {
            "source_vpc_id": overlapping.source,
            "target_vpc_id": overlapping.target,
            "mitigation": "transit_nat",
            "transit_vpc_id": transit,
            "peering_ids": [to_target, to_source],
        },
    )
    assert result.status == Status.PASS, result
    assert "bridged by transit_nat" in result.summary
    assert {p["status"] for p in result.evidence["peerings"]} == {"active"}


def test_transit_nat_with_unaccepted_source_peering_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    transit = make_vpc(ec2("target"), "172.16.0.0/16")
    to_target = peer(ec2, transit, overlapping.target, None, "target")
    to_source = peer(ec2, transit, overlapping.source, SOURCE, None)  # never accepted
    result = run(
        check_context,
        {
            "source_vpc_id": overlapping.source,
            "target_vpc_id": overlapping.target,
            "mitigation": "transit_nat",
            "transit_vpc_id": transit,
            "peering_ids": [to_target, to_source],
        },
    )
    assert result.status == Status.FAIL, result
    assert f"{to_source} is" in result.summary and "not active" in result.summary
    assert any(
        f"no active peering between transit VPC {transit} and source VPC" in d
        for d in result.details
    )


def test_transit_nat_missing_the_target_side_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    transit = make_vpc(ec2("target"), "172.16.0.0/16")
    to_source = peer(ec2, transit, overlapping.source, SOURCE, "source")
    result = run(
        check_context,
        {
            "source_vpc_id": overlapping.source,
            "target_vpc_id": overlapping.target,
            "mitigation": "transit_nat",
            "transit_vpc_id": transit,
            "peering_ids": [to_source],
        },
    )
    assert result.status == Status.FAIL, result
    assert f"and target VPC {overlapping.target}" in result.summary


def test_missing_vpc_fails_clearly(check_context: CheckContext, ec2: Callable[[str], Any]) -> None:
    target = make_vpc(ec2("target"), "10.2.0.0/16")
    result = run(check_context, {"source_vpc_id": "vpc-0123456789abcdef0", "target_vpc_id": target})
    assert result.status == Status.FAIL, result
    assert result.summary == "source VPC vpc-0123456789abcdef0 not found in the source account"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mitigation": "privatelink"}, "needs endpoint_ids or endpoint_service_name"),
        ({"mitigation": "transit_nat", "peering_ids": ["pcx-0123456789abcdef0"]}, "transit_vpc_id"),
        ({"endpoint_ids": ["vpce-0123456789abcdef0"]}, "mitigation is `none`"),
        ({"mitigation": "privatelink", "endpoint_ids": ["vpc-1234"]}, "pattern"),
        ({"mitigations": "none"}, "Extra inputs are not permitted"),
        ({"mitigation": "vpn"}, "mitigation"),
    ],
)
def test_params_reject_incomplete_or_unknown_mitigations(
    params: dict[str, Any], message: str
) -> None:
    cls = CheckRegistry.discover().get(CHECK)
    base = {"source_vpc_id": "vpc-0123456789abcdef0", "target_vpc_id": "vpc-0123456789abcdef1"}
    with pytest.raises(ValidationError, match=message):
        cls.params_model.model_validate(base | params)
