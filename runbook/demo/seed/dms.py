"""DMS: a full-load-and-cdc task in the target, reading the source's replica."""

from __future__ import annotations

import json

from runbook.demo.model import DemoWorld

_TABLE_MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "all-app-tables",
                "rule-action": "include",
                "object-locator": {"schema-name": "app", "table-name": "%"},
            }
        ]
    }
)
_TASK_SETTINGS = json.dumps(
    {
        "TargetMetadata": {"SupportLobs": True, "LimitedSizeLobMode": True, "LobMaxSize": 32},
        "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
        "Logging": {"EnableLogging": True},
    }
)


def seed_dms(world: DemoWorld) -> None:
    """The replication instance, endpoints and running task; needs the databases seeded."""
    dms = world.client("target", "dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=world.dms_instance_id,
        ReplicationInstanceClass="dms.r5.large",
        PubliclyAccessible=True,  # reaches the source DB over its public address (seed 003)
    )["ReplicationInstance"]
    world.dms_instance_arn = instance["ReplicationInstanceArn"]
    public_ips = instance.get("ReplicationInstancePublicIpAddresses") or [
        instance.get("ReplicationInstancePublicIpAddress")
    ]
    world.dms_public_ip = str(public_ips[0])

    def endpoint(kind: str, host: str) -> str:
        arn: str = dms.create_endpoint(
            EndpointIdentifier=f"{world.task_id}-{kind}",
            EndpointType=kind,
            EngineName="mysql",
            ServerName=host,
            Port=world.db_port,
            DatabaseName="app",
            Username="dms",
            Password="demo-only-password-3",
        )["Endpoint"]["EndpointArn"]
        return arn

    target_host = world.client("target", "rds").describe_db_instances(
        DBInstanceIdentifier=world.target_db_id
    )["DBInstances"][0]["Endpoint"]["Address"]
    source_endpoint = endpoint("source", world.db_replica_host)
    target_endpoint = endpoint("target", target_host)
    # The operator's "test connection" from the replication instance to each endpoint:
    # what dms.network_path reads (DescribeConnections) before any reasoning of its own.
    for tested in (source_endpoint, target_endpoint):
        dms.test_connection(ReplicationInstanceArn=world.dms_instance_arn, EndpointArn=tested)
    world.task_arn = dms.create_replication_task(
        ReplicationTaskIdentifier=world.task_id,
        SourceEndpointArn=source_endpoint,
        TargetEndpointArn=target_endpoint,
        ReplicationInstanceArn=world.dms_instance_arn,
        MigrationType="full-load-and-cdc",
        TableMappings=_TABLE_MAPPINGS,
        ReplicationTaskSettings=_TASK_SETTINGS,
    )["ReplicationTask"]["ReplicationTaskArn"]
    dms.start_replication_task(
        ReplicationTaskArn=world.task_arn, StartReplicationTaskType="start-replication"
    )
    # The source DB admits exactly the replication instance, on the DB port only.
    world.client("source", "ec2").authorize_security_group_ingress(
        GroupId=world.db_security_group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": world.db_port,
                "ToPort": world.db_port,
                "IpRanges": [
                    {"CidrIp": f"{world.dms_public_ip}/32", "Description": "DMS (target)"}
                ],
            }
        ],
    )
