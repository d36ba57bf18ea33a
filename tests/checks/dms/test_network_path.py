"""dms.network_path, no connection test run: the path reasoned about from the source's rules.

Without a test the check never passes; a public path with no rule admitting DMS's
egress IP fails, with what the source's owner must allow.
"""

from __future__ import annotations

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients
from tests.support.checks import run_check as run
from tests.support.dmsworld import DMS_IP, TASK, SourceDb, make_task


def public_replica(clients: Clients) -> None:
    clients("source", "rds").modify_db_instance(
        DBInstanceIdentifier="prod-db-replica", PubliclyAccessible=True, ApplyImmediately=True
    )


def allow(clients: Clients, sg: str, cidr: str, low: int = 3306, high: int = 3306) -> None:
    clients("source", "ec2").authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": low, "ToPort": high, "IpRanges": [{"CidrIp": cidr}]}
        ],
    )


def test_exact_rule_for_dms_ip_without_a_test_warns(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    allow(clients, source_db.sg_id, "10.0.0.0/16")  # the app's own subnet: not DMS's business
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert result.evidence["admitted"] == {DMS_IP: [source_db.sg_id]}
    assert result.evidence["port"] == 3306


def test_private_database_is_reasoned_about_not_failed(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)  # not publicly accessible: a private path
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert any("is not publicly accessible" in d for d in result.details)
    assert any(
        d.startswith("ask the source owner to allow inbound tcp 3306 from 10.0.0.1/32")
        for d in result.details
    )


def test_missing_rule_fails_naming_the_ip(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, "54.0.0.2/32")
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert f"no rule on {source_db.sg_id} admits replication instance IP {DMS_IP}" in (
        result.summary
    )


@pytest.mark.parametrize(
    ("cidr", "low", "high", "named"),
    [
        ("0.0.0.0/0", 3306, 3306, "tcp 3306 open to 0.0.0.0/0"),
        ("54.0.0.0/24", 3306, 3306, f"admits {DMS_IP} through 54.0.0.0/24, wider than /32"),
        (f"{DMS_IP}/32", 0, 65535, f"admits {DMS_IP} on tcp 0-65535, not only tcp 3306"),
    ],
)
def test_too_wide_rule_is_reported_for_the_source_owner_not_failed(
    check_context: CheckContext,
    clients: Clients,
    source_db: SourceDb,
    cidr: str,
    low: int,
    high: int,
    named: str,
) -> None:
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    # A second group on the same DB, as the seed's Lambda would add (all TCP ports).
    ec2 = clients("source", "ec2")
    wide_sg = ec2.create_security_group(
        GroupName="wide", Description="wide", VpcId=source_db.vpc_id
    )["GroupId"]
    clients("source", "rds").modify_db_instance(
        DBInstanceIdentifier="prod-db-replica", VpcSecurityGroupIds=[source_db.sg_id, wide_sg]
    )
    allow(clients, wide_sg, cidr, low, high)
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    # Wider than needed is the source owner's call: reported, never a demanded change.
    assert result.status == Status.WARN, result
    assert f"{wide_sg}: {named}" in "\n".join(result.evidence["too_wide"])
    assert any(f"tell the source owner): {wide_sg}: {named}" in d for d in result.details)


@pytest.fixture
def nat_ip(clients: Clients) -> tuple[str, str, str]:
    """A NAT gateway in the target's DMS VPC: (vpc id, gateway id, public IP)."""
    ec2 = clients("target", "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")
    gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation["AllocationId"])
    return vpc, gateway["NatGateway"]["NatGatewayId"], allocation["PublicIp"]


def test_nat_egress_needs_the_nat_ip_not_the_instance_ip(
    check_context: CheckContext,
    clients: Clients,
    source_db: SourceDb,
    nat_ip: tuple[str, str, str],
) -> None:
    vpc, gateway, ip = nat_ip
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    missing = run(check_context, "dms.network_path", {"task_id": TASK, "nat_vpc_id": vpc})
    assert missing.status == Status.FAIL, missing
    assert f"admits NAT gateway IP {ip}" in missing.summary

    allow(clients, source_db.sg_id, f"{ip}/32")
    by_id = run(check_context, "dms.network_path", {"task_id": TASK, "nat_gateway_ids": [gateway]})
    assert by_id.status == Status.WARN, by_id  # admitted, not yet tested by DMS
    assert by_id.evidence["egress_ips"] == [ip]


def test_unknown_nat_gateway_fails(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    result = run(
        check_context,
        "dms.network_path",
        {"task_id": TASK, "nat_gateway_ids": ["nat-0123456789abcdef0"]},
    )
    assert result.status == Status.FAIL, result
    assert "NAT gateway nat-0123456789abcdef0 not found" in result.summary
