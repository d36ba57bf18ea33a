"""Finding a DMS replication task by identifier or ARN: one home for checks and actions."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code


def find_task(client: Any, task: str, *, with_settings: bool = True) -> dict[str, Any] | None:
    """The task named by its identifier or ARN, or None. DMS answers an unknown
    task with `ResourceNotFoundFault` rather than an empty list."""
    name = "replication-task-arn" if task.startswith("arn:") else "replication-task-id"
    kwargs: dict[str, Any] = {} if with_settings else {"WithoutSettings": True}
    try:
        tasks: list[dict[str, Any]] = client.describe_replication_tasks(
            Filters=[{"Name": name, "Values": [task]}], **kwargs
        ).get("ReplicationTasks", [])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundFault":
            raise
        return None
    return dict(tasks[0]) if tasks else None
