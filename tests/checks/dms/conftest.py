"""Fixtures of the DMS checks: the source account's databases."""

from __future__ import annotations

import pytest

from tests.support.checks import Clients
from tests.support.dmsworld import SourceDb


@pytest.fixture
def source_db(clients: Clients) -> SourceDb:
    """The live MySQL writer and its read replica, in the source account."""
    ec2, rds = clients("source", "ec2"), clients("source", "rds")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="prod-db", Description="db", VpcId=vpc)["GroupId"]
    writer = rds.create_db_instance(
        DBInstanceIdentifier="prod-db",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        Port=3306,
        VpcSecurityGroupIds=[sg],
    )["DBInstance"]
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier="prod-db-replica", SourceDBInstanceIdentifier="prod-db"
    )["DBInstance"]
    return SourceDb(
        vpc_id=vpc,
        sg_id=sg,
        writer_host=writer["Endpoint"]["Address"],
        replica_host=replica["Endpoint"]["Address"],
    )
