"""VPC: overlapping source and target networks (10.0.0.0/16), bridged by PrivateLink.

The source's endpoint service has a private DNS name and the target's interface
endpoint turns private DNS on (which needs DNS support and hostnames in its VPC),
so that name resolves to the endpoint inside the target VPC.
"""

from __future__ import annotations

from typing import Any

from runbook.demo.model import DemoWorld

PRIVATE_DNS_NAME = "mysql.acme-prod.internal"


def _vpc(ec2: Any, name: str, azs: list[str]) -> tuple[str, list[str]]:
    vpc_id: str = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    subnets = [
        str(
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
        )
        for i, az in enumerate(azs, start=1)
    ]
    return vpc_id, subnets


def seed_networks(world: DemoWorld) -> None:
    azs = [f"{world.region}a", f"{world.region}b"]
    source_ec2 = world.client("source", "ec2")
    world.source_vpc_id, source_subnets = _vpc(source_ec2, "acme-prod", azs)
    world.db_security_group_id = source_ec2.create_security_group(
        GroupName="acme-prod-db",
        Description="MySQL for the app, and for DMS in the target account",
        VpcId=world.source_vpc_id,
    )["GroupId"]

    # PrivateLink: an endpoint service behind an NLB in the source, and an
    # interface endpoint to it in the target; no routes, so the overlap is moot.
    nlb = world.client("source", "elbv2").create_load_balancer(
        Name="acme-prod-db-nlb", Type="network", Scheme="internal", Subnets=source_subnets
    )["LoadBalancers"][0]["LoadBalancerArn"]
    service = source_ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False, PrivateDnsName=PRIVATE_DNS_NAME
    )["ServiceConfiguration"]
    world.endpoint_service_name = service["ServiceName"]

    target_ec2 = world.client("target", "ec2")
    world.target_vpc_id, target_subnets = _vpc(target_ec2, "acme-prod-v2", azs)
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        target_ec2.modify_vpc_attribute(VpcId=world.target_vpc_id, **{attribute: {"Value": True}})
    world.endpoint_id = target_ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=world.target_vpc_id,
        ServiceName=world.endpoint_service_name,
        SubnetIds=target_subnets,
        PrivateDnsEnabled=True,
    )["VpcEndpoint"]["VpcEndpointId"]
