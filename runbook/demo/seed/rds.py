"""RDS: the source's MySQL writer and the read replica DMS reads; the target's database.

The replica is one DMS can capture changes from (AWS DMS, CHAP_Source.MySQL): automated
backups on and `binlog_format` ROW in its own parameter group.
"""

from __future__ import annotations

from runbook.demo.model import DemoWorld


def seed_databases(world: DemoWorld) -> None:
    rds = world.client("source", "rds")
    rds.create_db_instance(
        DBInstanceIdentifier=world.db_writer_id,
        Engine="mysql",
        EngineVersion="8.0.35",
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
    rds.create_db_parameter_group(
        DBParameterGroupName=f"{world.db_replica_id}-cdc",
        DBParameterGroupFamily="mysql8.0",
        Description="Row-based binary log for DMS CDC",
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=f"{world.db_replica_id}-cdc",
        Parameters=[
            {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "immediate"}
        ],
    )
    # A new replica has no backups, hence no binary log for DMS to read.
    rds.modify_db_instance(
        DBInstanceIdentifier=world.db_replica_id,
        BackupRetentionPeriod=7,
        DBParameterGroupName=f"{world.db_replica_id}-cdc",
        ApplyImmediately=True,
    )
    world.client("target", "rds").create_db_instance(
        DBInstanceIdentifier=world.target_db_id,
        Engine="mysql",
        DBInstanceClass="db.r6g.large",
        MasterUsername="admin",
        MasterUserPassword="demo-only-password-2",
        AllocatedStorage=100,
        Port=world.db_port,
    )
