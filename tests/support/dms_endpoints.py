"""What the DMS source and network checks read besides the task: replica settings, connection tests.

moto answers DescribeConnections but only ever with `successful` (every TestConnection
succeeds), so `failed` and `testing` are answered on the check's own client with a
response validated against the service model, as botocore's Stubber validates it.
A Stubber proper would have to answer every DMS call of the check; this answers one
operation and lets moto answer the rest.
"""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from tests.support.checks import Clients


def answer_operation(client: Any, operation: str, response: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer `operation` on `client` with `response` (checked against its output shape).

    Returns the list the request parameters of each answered call are appended to.
    """
    model = client.meta.service_model
    output = model.operation_model(operation).output_shape
    validate_parameters(response, output)  # raises on an unknown key or a wrong type
    seen: list[dict[str, Any]] = []

    def answer(params: dict[str, Any], **_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        seen.append(params)
        parsed = {**response, "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}
        return AWSResponse(None, 200, {}, None), parsed

    client.meta.events.register(f"before-call.{model.service_id.hyphenize()}.{operation}", answer)
    return seen


def connection(
    instance_arn: str, endpoint_arn: str, status: str, message: str | None = None
) -> dict[str, Any]:
    """One DescribeConnections entry (statuses per AWS: successful, testing, failed, deleting)."""
    entry: dict[str, Any] = {
        "ReplicationInstanceArn": instance_arn,
        "EndpointArn": endpoint_arn,
        "Status": status,
        "EndpointIdentifier": endpoint_arn.rsplit(":", 1)[-1],
        "ReplicationInstanceIdentifier": instance_arn.rsplit(":", 1)[-1],
    }
    if message is not None:
        entry["LastFailureMessage"] = message
    return entry


def task_endpoints(clients: Clients, task_arn: str) -> tuple[str, str, str]:
    """(replication instance ARN, source endpoint ARN, target endpoint ARN) of a moto task."""
    task = clients("target", "dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [task_arn]}]
    )["ReplicationTasks"][0]
    return (
        str(task["ReplicationInstanceArn"]),
        str(task["SourceEndpointArn"]),
        str(task["TargetEndpointArn"]),
    )


def parameter_group(clients: Clients, name: str, family: str, values: dict[str, str]) -> str:
    """A DB parameter group in the source with these values set; returns its name."""
    rds = clients("source", "rds")
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily=family, Description=name
    )
    if values:
        rds.modify_db_parameter_group(
            DBParameterGroupName=name,
            Parameters=[
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "immediate"}
                for k, v in values.items()
            ],
        )
    return name


def configure_replica(
    clients: Clients,
    instance_id: str,
    *,
    backup_retention: int = 7,
    group: str | None = None,
) -> None:
    """Set a source replica's backup retention and parameter group, as its owner would."""
    kwargs: dict[str, Any] = {"BackupRetentionPeriod": backup_retention}
    if group is not None:
        kwargs["DBParameterGroupName"] = group
    clients("source", "rds").modify_db_instance(
        DBInstanceIdentifier=instance_id, ApplyImmediately=True, **kwargs
    )


def binlog_ready(clients: Clients, instance_id: str, family: str = "mysql5.6") -> None:
    """What DMS CDC needs on an RDS MySQL/MariaDB replica: backups on, binlog_format ROW."""
    group = parameter_group(clients, f"{instance_id}-cdc", family, {"binlog_format": "ROW"})
    configure_replica(clients, instance_id, group=group)


def fail_operation(client: Any, operation: str, code: str, message: str = "denied") -> None:
    """Make `operation` on `client` raise the ClientError AWS would answer with `code`."""
    model = client.meta.service_model

    def deny(**_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    client.meta.events.register(f"before-call.{model.service_id.hyphenize()}.{operation}", deny)
