"""RDS: the source's MySQL writer and the read replica DMS reads; the target's database."""

from __future__ import annotations

from runbook.demo.model import DemoWorld


def seed_databases(world: DemoWorld) -> None:
    rds = world.client("source", "rds")
    rds.create_db_instance(
        DBInstanceIdentifier=world.db_writer_id,
        Engine="mysql",
        DBInstanceClass="db.r6g.large",
        MasterUsername="admin",
        MasterUserPassword="demo-only-password-1",
        AllocatedStorage=100,
        Port=world.db_port,
        VpcSecurityGroupIds=[world.db_security_group_id],
        PubliclyAccessible=True,
    )
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier=world.db_replica_id,
        SourceDBInstanceIdentifier=world.db_writer_id,
        DBInstanceClass="db.r6g.large",
        VpcSecurityGroupIds=[world.db_security_group_id],
        PubliclyAccessible=True,
    )["DBInstance"]
    world.db_replica_host = replica["Endpoint"]["Address"]
    world.client("target", "rds").create_db_instance(
        DBInstanceIdentifier=world.target_db_id,
        Engine="mysql",
        DBInstanceClass="db.r6g.large",
        MasterUsername="admin",
        MasterUserPassword="demo-only-password-2",
        AllocatedStorage=100,
        Port=world.db_port,
    )
