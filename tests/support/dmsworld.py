"""A DMS replication in moto: task, instance and endpoints in the target, CloudWatch samples.

Where moto falls short (no DescribeTableStatistics; ARNs that end in the task's name
instead of a resource id; a fixed FullLoadProgressPercent), a hook on the check's own
client supplies what AWS would answer, and each place says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

from runbook.checkapi import CheckContext
from tests.support.checks import Clients

INSTANCE = "cutover-ri"
TASK = "cutover-task"
DMS_IP = "54.0.0.1"  # moto's public IP for every publicly accessible replication instance
DO_NOTHING = {"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}
MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "1",
                "rule-action": "include",
                "object-locator": {"schema-name": "%", "table-name": "%"},
            }
        ]
    }
)


@dataclass
class SourceDb:
    vpc_id: str
    sg_id: str
    writer_host: str
    replica_host: str


def make_task(
    clients: Clients,
    server_name: str,
    *,
    settings: dict[str, Any] | None = None,
    migration_type: str = "full-load-and-cdc",
    start: bool = True,
    task_id: str = TASK,
    instance_id: str = INSTANCE,
) -> str:
    """A replication instance, endpoints and task in the target; returns the task ARN."""
    dms = clients("target", "dms")
    existing = dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": [instance_id]}]
    )["ReplicationInstances"]
    if existing:
        instance_arn = existing[0]["ReplicationInstanceArn"]
    else:
        instance_arn = dms.create_replication_instance(
            ReplicationInstanceIdentifier=instance_id,
            ReplicationInstanceClass="dms.t3.medium",
            PubliclyAccessible=True,
        )["ReplicationInstance"]["ReplicationInstanceArn"]

    def endpoint(kind: str, host: str) -> str:
        arn: str = dms.create_endpoint(
            EndpointIdentifier=f"{task_id}-{kind}",
            EndpointType=kind,
            EngineName="mysql",
            ServerName=host,
            Port=3306,
            DatabaseName="app",
            Username="dms",
            Password="not-a-secret-2",
        )["Endpoint"]["EndpointArn"]
        return arn

    task_arn: str = dms.create_replication_task(
        ReplicationTaskIdentifier=task_id,
        SourceEndpointArn=endpoint("source", server_name),
        TargetEndpointArn=endpoint("target", "app.target.internal"),
        ReplicationInstanceArn=instance_arn,
        MigrationType=migration_type,
        TableMappings=MAPPINGS,
        ReplicationTaskSettings=json.dumps(DO_NOTHING if settings is None else settings),
    )["ReplicationTask"]["ReplicationTaskArn"]
    if start:
        dms.start_replication_task(
            ReplicationTaskArn=task_arn, StartReplicationTaskType="start-replication"
        )
    return task_arn


def answer_table_statistics(ctx: CheckContext, tables: list[dict[str, Any]]) -> None:
    """moto has no DescribeTableStatistics: answer it on the check's own client.

    A `before-send` hook cannot: moto's own before-send handler still runs after it
    and raises NotImplementedError. So answer on `before-call`, as botocore's Stubber
    does, for this one operation, with a response checked against its output shape.
    """
    client = ctx.client("target", "dms")
    output = client.meta.service_model.operation_model("DescribeTableStatistics").output_shape

    def answer(params: dict[str, Any], **_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        arn = json.loads(params["body"])["ReplicationTaskArn"]
        parsed: dict[str, Any] = {"ReplicationTaskArn": arn, "TableStatistics": tables}
        validate_parameters(parsed, output)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": {}}
        return AWSResponse(None, 200, {}, None), parsed

    client.meta.events.register(
        "before-call.database-migration-service.DescribeTableStatistics", answer
    )


def table(name: str, state: str = "Table completed") -> dict[str, Any]:
    return {"SchemaName": "app", "TableName": name, "TableState": state, "FullLoadRows": 10}


def patch_task_response(ctx: CheckContext, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit DescribeReplicationTasks' parsed answer where moto cannot produce a state."""

    def edit(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for task in parsed.get("ReplicationTasks", []):
            change(task)

    ctx.client("target", "dms").meta.events.register(
        "after-call.database-migration-service.DescribeReplicationTasks", edit
    )


def put(
    clients: Clients,
    now: datetime,
    metric: str,
    values: list[float],
    *,
    task: str = TASK,
    instance: str = INSTANCE,
    end_minutes_ago: int = 1,
) -> None:
    """One sample a minute, oldest first, the newest `end_minutes_ago` before now."""
    dims = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance},
        {"Name": "ReplicationTaskIdentifier", "Value": task},
    ]
    count = len(values)
    clients("target", "cloudwatch").put_metric_data(
        Namespace="AWS/DMS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": dims,
                "Timestamp": now - timedelta(minutes=end_minutes_ago + count - 1 - i),
                "Value": value,
                "Unit": "Seconds" if metric.startswith("CDCLatency") else "Count",
            }
            for i, value in enumerate(values)
        ],
    )
