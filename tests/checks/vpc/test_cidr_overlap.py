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
OTHER_SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0fedcba9876543210"


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


def interface_endpoint(
    ec2: Any, vpc_id: str, cidr: str, service: str = SERVICE, *, private_dns: bool = False
) -> str:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    endpoint: str = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=service,
        VpcEndpointType="Interface",
        SubnetIds=[subnet],
        PrivateDnsEnabled=private_dns,
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


def test_privatelink_endpoint_nothing_resolves_to_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    """Available, right service, but private DNS off and no DMS endpoint using its name."""
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
    # Before issue 12 this passed.
    assert result.status == Status.FAIL, result
    assert f"private DNS is off on {endpoint}" in result.summary
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
            "endpoint_service_name": SERVICE,
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


def privatelink(vpcs: Vpcs, **more: Any) -> dict[str, Any]:
    return {
        "source_vpc_id": vpcs.source,
        "target_vpc_id": vpcs.target,
        "mitigation": "privatelink",
        "endpoint_service_name": SERVICE,
        **more,
    }


def test_privatelink_endpoint_for_another_service_is_no_longer_enough(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    """Naming only endpoint ids passed whatever service they connect to."""
    other = interface_endpoint(ec2("target"), overlapping.target, "10.0.1.0/24", OTHER_SERVICE)
    params = privatelink(overlapping, endpoint_ids=[other])
    del params["endpoint_service_name"]
    # Before issue 12 this passed; now the runbook must name the service.
    with pytest.raises(ValidationError, match="needs endpoint_service_name"):
        run(check_context, params)


def test_privatelink_named_endpoint_serving_another_service_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    target = ec2("target")
    other = interface_endpoint(
        target, overlapping.target, "10.0.1.0/24", OTHER_SERVICE, private_dns=True
    )
    interface_endpoint(target, overlapping.target, "10.0.2.0/24", private_dns=True)
    result = run(check_context, privatelink(overlapping, endpoint_ids=[other]))
    # Before issue 12 this passed: the id was checked, its service was not.
    assert result.status == Status.FAIL, result
    assert result.evidence["mitigation_problems"] == [
        f"{other} connects to {OTHER_SERVICE}, not {SERVICE}"
    ]


def test_privatelink_with_private_dns_passes(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    endpoint = interface_endpoint(
        ec2("target"), overlapping.target, "10.0.1.0/24", private_dns=True
    )
    result = run(check_context, privatelink(overlapping, endpoint_ids=[endpoint]))
    assert result.status == Status.PASS, result
    assert "bridged by privatelink" in result.summary
    assert any(f"private DNS is on for {endpoint}" in d for d in result.details)
    assert result.evidence["endpoints"][0]["private_dns"] is True


def dms_source_endpoint(clients: Callable[[str], Any], server: str) -> str:
    """A DMS source endpoint in the target account (DMS runs there)."""
    ident = "acme-source"
    clients("target").create_endpoint(
        EndpointIdentifier=ident,
        EndpointType="source",
        EngineName="mysql",
        ServerName=server,
        Port=3306,
        Username="dms",
        Password="not-a-secret",
    )
    return ident


@pytest.fixture
def dms(admin: Any) -> Callable[[str], Any]:
    return lambda account: admin(account).client("dms")


def endpoint_dns_names(ec2: Any, endpoint: str) -> list[str]:
    found = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"][0]
    return [str(e["DnsName"]) for e in found["DnsEntries"]]


def test_privatelink_dms_endpoint_using_the_endpoint_dns_passes(
    check_context: CheckContext,
    ec2: Callable[[str], Any],
    dms: Callable[[str], Any],
    overlapping: Vpcs,
) -> None:
    endpoint = interface_endpoint(ec2("target"), overlapping.target, "10.0.1.0/24")
    (name, *_) = endpoint_dns_names(ec2("target"), endpoint)
    ident = dms_source_endpoint(dms, name.upper() + ".")  # DNS names are case-insensitive
    result = run(check_context, privatelink(overlapping, dms_endpoint_id=ident))
    assert result.status == Status.PASS, result
    assert any(f"DMS endpoint {ident} connects to {name.upper()}." in d for d in result.details)


def test_privatelink_dms_endpoint_going_around_the_endpoint_fails(
    check_context: CheckContext,
    ec2: Callable[[str], Any],
    dms: Callable[[str], Any],
    overlapping: Vpcs,
) -> None:
    # Private DNS is on, but DMS still dials the source database's own name, which
    # resolves into the overlapping range: the endpoint is never used.
    interface_endpoint(ec2("target"), overlapping.target, "10.0.1.0/24", private_dns=True)
    ident = dms_source_endpoint(dms, "acme-prod.abc123.us-east-1.rds.amazonaws.com")
    result = run(check_context, privatelink(overlapping, dms_endpoint_id=ident))
    assert result.status == Status.FAIL, result
    (problem,) = result.evidence["mitigation_problems"]
    assert problem.startswith(
        f"DMS endpoint {ident} connects to acme-prod.abc123.us-east-1.rds.amazonaws.com, "
        "not a DNS name of vpce-"
    )
    assert problem.endswith("its traffic does not go through PrivateLink")


def test_privatelink_dms_endpoint_using_the_private_dns_name_passes(
    check_context: CheckContext,
    admin: Any,
    ec2: Callable[[str], Any],
    dms: Callable[[str], Any],
    overlapping: Vpcs,
) -> None:
    """The service's private DNS name, as DescribeVpcEndpointServices gives it, counts."""
    target = ec2("target")
    subnet = target.create_subnet(VpcId=overlapping.target, CidrBlock="10.0.9.0/24")["Subnet"]
    nlb = (
        admin("target")
        .client("elbv2")
        .create_load_balancer(
            Name="db-nlb", Type="network", Scheme="internal", Subnets=[subnet["SubnetId"]]
        )["LoadBalancers"][0]["LoadBalancerArn"]
    )
    service = target.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False, PrivateDnsName="db.acme.internal"
    )["ServiceConfiguration"]["ServiceName"]
    endpoint = interface_endpoint(
        target, overlapping.target, "10.0.1.0/24", service, private_dns=True
    )
    ident = dms_source_endpoint(dms, "db.acme.internal")
    params = privatelink(overlapping, endpoint_service_name=service, dms_endpoint_id=ident)
    result = run(check_context, params)
    assert result.status == Status.PASS, result
    assert any(
        f"DMS endpoint {ident} connects to db.acme.internal, a DNS name of {endpoint}" in d
        for d in result.details
    )


def test_privatelink_dms_endpoint_missing_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs
) -> None:
    interface_endpoint(ec2("target"), overlapping.target, "10.0.1.0/24", private_dns=True)
    result = run(check_context, privatelink(overlapping, dms_endpoint_id="nowhere"))
    assert result.status == Status.FAIL, result
    assert "DMS endpoint nowhere not found in the target account" in result.summary


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


def transit_params(vpcs: Vpcs, transit: str, *peerings: str) -> dict[str, Any]:
    return {
        "source_vpc_id": vpcs.source,
        "target_vpc_id": vpcs.target,
        "mitigation": "transit_nat",
        "transit_vpc_id": transit,
        "peering_ids": list(peerings),
    }


def main_route_table(ec2: Any, vpc_id: str) -> str:
    filters = [
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "association.main", "Values": ["true"]},
    ]
    table: str = ec2.describe_route_tables(Filters=filters)["RouteTables"][0]["RouteTableId"]
    return table


def route_to(ec2: Any, vpc_id: str, cidr: str, pcx: str, *, table: str | None = None) -> None:
    ec2.create_route(
        RouteTableId=table or main_route_table(ec2, vpc_id),
        DestinationCidrBlock=cidr,
        VpcPeeringConnectionId=pcx,
    )


def nat_in(ec2: Any, vpc_id: str, cidr: str) -> str:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
    nat: str = ec2.create_nat_gateway(SubnetId=subnet, ConnectivityType="private")["NatGateway"][
        "NatGatewayId"
    ]
    return nat


@dataclass
class Transit:
    vpc: str
    to_target: str
    to_source: str


@pytest.fixture
def transit(ec2: Callable[[str], Any], overlapping: Vpcs) -> Transit:
    """A transit VPC in the target, peered (and accepted) with both sides."""
    vpc = make_vpc(ec2("target"), "172.16.0.0/16")
    return Transit(
        vpc=vpc,
        to_target=peer(ec2, vpc, overlapping.target, None, "target"),
        to_source=peer(ec2, vpc, overlapping.source, SOURCE, "source"),
    )


def test_transit_nat_peerings_without_routes_or_nat_fail(
    check_context: CheckContext, overlapping: Vpcs, transit: Transit
) -> None:
    params = transit_params(overlapping, transit.vpc, transit.to_target, transit.to_source)
    result = run(check_context, params)
    # Before issue 12 this passed: active peerings were taken for a working path.
    assert result.status == Status.FAIL, result
    assert {p["status"] for p in result.evidence["peerings"]} == {"active"}
    problems = result.evidence["mitigation_problems"]
    for side, vpc, pcx in (
        ("source", overlapping.source, transit.to_source),
        ("target", overlapping.target, transit.to_target),
    ):
        assert (
            f"no route in {side} VPC {vpc} sends 172.16.0.0/16 (transit) through {pcx}" in problems
        )
    assert f"no available NAT gateway in transit VPC {transit.vpc}" in problems


def test_transit_nat_in_place_passes(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs, transit: Transit
) -> None:
    route_to(ec2("target"), overlapping.target, "172.16.0.0/16", transit.to_target)
    route_to(ec2("source"), overlapping.source, "172.16.1.0/24", transit.to_source)
    nat = nat_in(ec2("target"), transit.vpc, "172.16.1.0/24")
    params = transit_params(overlapping, transit.vpc, transit.to_target, transit.to_source)
    result = run(check_context, params)
    assert result.status == Status.PASS, result
    assert "bridged by transit_nat" in result.summary
    assert result.evidence["nat_gateways"] == [nat]
    routes = result.evidence["routes"]
    assert routes["source"][0]["destination"] == "172.16.1.0/24"
    assert routes["target"][0]["peering"] == transit.to_target


def test_transit_nat_route_in_a_table_no_subnet_uses_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs, transit: Transit
) -> None:
    route_to(ec2("target"), overlapping.target, "172.16.0.0/16", transit.to_target)
    loose = ec2("source").create_route_table(VpcId=overlapping.source)["RouteTable"]
    route_to(
        ec2("source"),
        overlapping.source,
        "172.16.0.0/16",
        transit.to_source,
        table=loose["RouteTableId"],
    )
    nat_in(ec2("target"), transit.vpc, "172.16.1.0/24")
    params = transit_params(overlapping, transit.vpc, transit.to_target, transit.to_source)
    result = run(check_context, params)
    assert result.status == Status.FAIL, result
    assert f"no route in source VPC {overlapping.source}" in result.summary
    (problem,) = result.evidence["mitigation_problems"]
    assert problem == (
        f"no route in source VPC {overlapping.source} sends 172.16.0.0/16 (transit) through "
        f"{transit.to_source} (route table {loose['RouteTableId']} has one, but no subnet uses it)"
    )


def test_transit_nat_route_through_another_peering_fails(
    check_context: CheckContext, ec2: Callable[[str], Any], overlapping: Vpcs, transit: Transit
) -> None:
    route_to(ec2("source"), overlapping.source, "172.16.0.0/16", transit.to_source)
    # The target routes the transit CIDR through the source's peering: not a path it has.
    route_to(ec2("target"), overlapping.target, "172.16.0.0/16", transit.to_source)
    nat_in(ec2("target"), transit.vpc, "172.16.1.0/24")
    params = transit_params(overlapping, transit.vpc, transit.to_target, transit.to_source)
    result = run(check_context, params)
    assert result.status == Status.FAIL, result
    assert f"no route in target VPC {overlapping.target}" in result.summary


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
        ({"mitigation": "privatelink"}, "needs endpoint_service_name"),
        (
            {"mitigation": "privatelink", "endpoint_ids": ["vpce-0123456789abcdef0"]},
            "needs endpoint_service_name",
        ),
        ({"dms_endpoint_id": "acme-source"}, "mitigation is `none`"),
        ({"mitigation": "transit_nat", "peering_ids": ["pcx-0123456789abcdef0"]}, "transit_vpc_id"),
        ({"endpoint_ids": ["vpce-0123456789abcdef0"]}, "mitigation is `none`"),
        (
            {
                "mitigation": "privatelink",
                "endpoint_ids": ["vpc-1234"],
                "endpoint_service_name": SERVICE,
            },
            "pattern",
        ),
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
