"""Look-ups shared by the DMS checks (no check lives here).

The task, its replication instance and endpoints; the RDS database an endpoint's
`ServerName` names in the source account; and the task's CloudWatch series,
whose dimension values are discovered with `ListMetrics` rather than guessed
(`ReplicationTaskIdentifier` may carry the task's name or its resource id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from pydantic import AfterValidator

from runbook.aws.dms import find_task
from runbook.aws.errors import error_code
from runbook.checkapi import CheckContext
from runbook.formatting import duration

NAMESPACE = "AWS/DMS"
TASK_DIMENSION = "ReplicationTaskIdentifier"
INSTANCE_DIMENSION = "ReplicationInstanceIdentifier"
LATENCY_METRICS = ("CDCLatencySource", "CDCLatencyTarget")
INCOMING_METRIC = "CDCIncomingChanges"
# "Incoming task changes from the source in rows per second": the source's change rate,
# where CDCIncomingChanges is only the backlog waiting to be applied.
SOURCE_ROWS_METRIC = "CDCThroughputRowsSource"
RUNNING = "running"
"""The one `ReplicationTask.Status` in which CDC replicates (DescribeReplicationTasks)."""

DmsAccount = Literal["source", "target"]

_TASK_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:dms:[a-z0-9-]+:\d{12}:task:[A-Za-z0-9-]+$")
_TASK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")


def _task_ref(value: str) -> str:
    if not (_TASK_ARN.match(value) or _TASK_NAME.match(value)):
        raise ValueError(
            f"{value!r} is neither a DMS task identifier (a letter, then letters, digits, "
            "hyphens) nor a task ARN (arn:aws:dms:REGION:ACCOUNT:task:ID)"
        )
    return value


TaskRef = Annotated[str, AfterValidator(_task_ref)]
"""A replication task's identifier or ARN."""

RESUME_HINT = (
    "resume it: aws dms start-replication-task --replication-task-arn {arn} "
    "--start-replication-task-type resume-processing (never reload-target or a fresh "
    "start: that reloads from scratch and loses the CDC position)"
)


START_HINT = (
    "start it: aws dms start-replication-task --replication-task-arn {arn} "
    "--start-replication-task-type start-replication (it has never run)"
)


def restart_hint(task: dict[str, Any]) -> str:
    """How to get a task replicating again: resume one that has run, start one that never did."""
    hint = RESUME_HINT if task.get("ReplicationTaskStartDate") else START_HINT
    return hint.format(arn=task["ReplicationTaskArn"])


def not_running(task: dict[str, Any]) -> tuple[str, list[str]] | None:
    """Why the task is not replicating (summary, details); None when it is `running`.

    Every other documented status (`failed`, `stopped`, `ready`, `starting`,
    `stopping`, `modifying`, `creating`, `deleting`, `testing`, `moving`,
    `failed-move`) means no change is being captured or applied now, whatever
    the last CloudWatch datapoint says.
    """
    status = str(task.get("Status") or "unknown")
    if status == RUNNING:
        return None
    details = [
        f"{key}: {task[key]}" for key in ("StopReason", "LastFailureMessage") if task.get(key)
    ]
    if status in ("failed", "stopped", "ready"):
        details.append(restart_hint(task))
    name = task.get("ReplicationTaskIdentifier") or task.get("ReplicationTaskArn")
    return f"DMS task {name} is {status}, not running: CDC is not replicating", details


class Missing(LookupError):
    """An expected resource is absent: the check fails with this message."""


def describe_task(ctx: CheckContext, account: DmsAccount, task: str) -> dict[str, Any]:
    found = find_task(ctx.client(account, "dms"), task)
    if found is None:
        raise Missing(f"DMS replication task {task} not found in the {account} account")
    return found


def describe_instance(ctx: CheckContext, account: DmsAccount, arn: str) -> dict[str, Any]:
    dms = ctx.client(account, "dms")
    try:
        found: list[dict[str, Any]] = dms.describe_replication_instances(
            Filters=[{"Name": "replication-instance-arn", "Values": [arn]}]
        ).get("ReplicationInstances", [])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundFault":
            raise
        found = []
    if not found:
        raise Missing(f"replication instance {arn} not found in the {account} account")
    return found[0]


def describe_endpoint(ctx: CheckContext, account: DmsAccount, arn: str) -> dict[str, Any]:
    dms = ctx.client(account, "dms")
    try:
        found: list[dict[str, Any]] = dms.describe_endpoints(
            Filters=[{"Name": "endpoint-arn", "Values": [arn]}]
        ).get("Endpoints", [])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundFault":
            raise
        found = []
    if not found:
        raise Missing(f"DMS endpoint {arn} not found in the {account} account")
    return found[0]


def resource_id(arn: str) -> str:
    """The last part of an ARN: `...:task:ABC` is `ABC`."""
    return arn.rsplit(":", 1)[-1]


def normalize_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


@dataclass(frozen=True)
class DbMatch:
    """The RDS database a hostname names, and which of its endpoints it is."""

    host: str
    kind: Literal["instance", "cluster_writer", "cluster_reader"]
    instance: dict[str, Any] | None
    cluster: dict[str, Any] | None

    @property
    def name(self) -> str:
        if self.instance is not None:
            return str(self.instance["DBInstanceIdentifier"])
        assert self.cluster is not None
        return str(self.cluster["DBClusterIdentifier"])

    @property
    def port(self) -> int | None:
        if self.instance is not None:
            port = (self.instance.get("Endpoint") or {}).get("Port")
        else:
            assert self.cluster is not None
            port = self.cluster.get("Port")
        return int(port) if port is not None else None

    @property
    def security_group_ids(self) -> list[str]:
        # An Aurora instance's groups are the cluster's; prefer the instance's own list
        # when it has one (it does for standalone instances and replicas).
        holder = self.instance if self.instance is not None else self.cluster
        groups = (holder or {}).get("VpcSecurityGroups") or []
        if not groups and self.cluster is not None:
            groups = self.cluster.get("VpcSecurityGroups") or []
        return [
            str(g["VpcSecurityGroupId"])
            for g in groups
            if str(g.get("Status", "active")) in ("active", "adding")
        ]

    def writer_members(self) -> list[str]:
        members = (self.cluster or {}).get("DBClusterMembers") or []
        return [str(m["DBInstanceIdentifier"]) for m in members if m.get("IsClusterWriter")]

    def reader_members(self) -> list[str]:
        members = (self.cluster or {}).get("DBClusterMembers") or []
        return [str(m["DBInstanceIdentifier"]) for m in members if not m.get("IsClusterWriter")]


def _paginate(client: Any, operation: str, key: str) -> Iterable[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate():
        yield from page.get(key, [])


def find_db(ctx: CheckContext, host: str) -> DbMatch | None:
    """The DB instance or cluster in the source account whose endpoint is `host`."""
    rds = ctx.client("source", "rds")
    wanted = normalize_host(host)
    instances = list(_paginate(rds, "describe_db_instances", "DBInstances"))
    clusters = list(_paginate(rds, "describe_db_clusters", "DBClusters"))
    by_cluster = {str(c["DBClusterIdentifier"]): c for c in clusters}
    for inst in instances:
        address = (inst.get("Endpoint") or {}).get("Address")
        if address and normalize_host(str(address)) == wanted:
            cluster = by_cluster.get(str(inst.get("DBClusterIdentifier") or ""))
            return DbMatch(host, "instance", inst, cluster)
    for cluster in clusters:
        if normalize_host(str(cluster.get("Endpoint") or "")) == wanted:
            return DbMatch(host, "cluster_writer", None, cluster)
        if normalize_host(str(cluster.get("ReaderEndpoint") or "")) == wanted:
            return DbMatch(host, "cluster_reader", None, cluster)
    return None


def source_db_of_task(
    ctx: CheckContext, account: DmsAccount, task: dict[str, Any], alias_for: str | None
) -> tuple[dict[str, Any], DbMatch]:
    """The task's source endpoint and the source-account database it reaches."""
    endpoint = describe_endpoint(ctx, account, str(task["SourceEndpointArn"]))
    server = str(endpoint.get("ServerName") or "")
    if not server:
        raise Missing(f"source endpoint {endpoint.get('EndpointIdentifier')} has no ServerName")
    host = alias_for or server
    match = find_db(ctx, host)
    if match is None:
        via = f" (alias_for of {server})" if alias_for else ""
        raise Missing(
            f"source endpoint ServerName {host}{via} is not the endpoint of any DB instance "
            "or cluster in the source account (an alias? set `alias_for` to the RDS "
            "hostname it stands for)"
        )
    return endpoint, match


# --- CloudWatch -------------------------------------------------------------------------

Dimensions = tuple[tuple[str, str], ...]


def discover_dimensions(
    ctx: CheckContext,
    account: DmsAccount,
    metric: str,
    task: dict[str, Any],
    instance: dict[str, Any] | None,
) -> list[Dimensions]:
    """The dimension sets under which CloudWatch really holds `metric` for this task.

    `ReplicationTaskIdentifier` holds the task's name or its resource id depending
    on how it was published; both are accepted, nothing else is.
    """
    cw = ctx.client(account, "cloudwatch")
    task_values = {str(task["ReplicationTaskIdentifier"]), resource_id(task["ReplicationTaskArn"])}
    instance_values: set[str] | None = None
    if instance is not None:
        instance_values = {
            str(instance["ReplicationInstanceIdentifier"]),
            resource_id(str(instance["ReplicationInstanceArn"])),
        }
    found: list[Dimensions] = []
    # Filtering by dimension name alone is not supported everywhere (the emulator
    # matches name and value), so list the metric and filter here.
    paginator = cw.get_paginator("list_metrics")
    for page in paginator.paginate(Namespace=NAMESPACE, MetricName=metric):
        for m in page.get("Metrics", []):
            dims = {str(d["Name"]): str(d["Value"]) for d in m.get("Dimensions", [])}
            if set(dims) != {TASK_DIMENSION, INSTANCE_DIMENSION}:
                continue
            if dims[TASK_DIMENSION] not in task_values:
                continue
            if instance_values is not None and dims[INSTANCE_DIMENSION] not in instance_values:
                continue
            key: Dimensions = tuple(sorted(dims.items()))
            if key not in found:
                found.append(key)
    return found


Series = dict[datetime, float]


def fetch_series(
    ctx: CheckContext,
    account: DmsAccount,
    metrics: dict[str, list[Dimensions]],
    start: datetime,
    end: datetime,
    period: int,
) -> dict[str, Series]:
    """Each metric's `Maximum` per period, merged (max) across its dimension sets."""
    cw = ctx.client(account, "cloudwatch")
    queries: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for metric, dimension_sets in metrics.items():
        for dims in dimension_sets:
            query_id = f"m{len(queries)}"
            names[query_id] = metric
            queries.append(
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": metric,
                            "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                        },
                        "Period": period,
                        "Stat": "Maximum",
                    },
                    "ReturnData": True,
                }
            )
    out: dict[str, Series] = {metric: {} for metric in metrics}
    if not queries:
        return out
    # CloudWatch buckets from StartTime: aligned to the period, samples from one
    # call line up with the next's and with another metric's.
    epoch = int(start.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % period, UTC)
    paginator = cw.get_paginator("get_metric_data")
    pages = paginator.paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    )
    for page in pages:
        for result in page.get("MetricDataResults", []):
            series = out[names[str(result["Id"])]]
            for when, value in zip(
                result.get("Timestamps", []), result.get("Values", []), strict=False
            ):
                at = when.astimezone(UTC)
                series[at] = max(float(value), series.get(at, float("-inf")))
    return out


def complete(series: Series, end: datetime, period: int) -> Series:
    """Only the samples whose period is over: a period still running holds part of a minute."""
    span = timedelta(seconds=period)
    return {at: v for at, v in series.items() if at + span <= end}


def stale(newest: datetime, end: datetime, period: int, max_age_seconds: int) -> str | None:
    """Why the newest sample is too old to judge by (its data ends with its period), or None."""
    age = (end - newest).total_seconds() - period
    if age <= max_age_seconds:
        return None
    return (
        f"newest sample is {duration(age)} old (period {newest.isoformat()} + {period} s; "
        f"at most {duration(max_age_seconds)} allowed): DMS stopped reporting, or CloudWatch "
        "is behind"
    )


def merge_max(*series: Series) -> Series:
    """Per timestamp, the largest value any of the series has there."""
    out: Series = {}
    for s in series:
        for at, value in s.items():
            out[at] = max(value, out.get(at, float("-inf")))
    return out


def as_points(series: Series) -> list[list[Any]]:
    """`[[iso time, value], ...]` in time order: JSON evidence, ready for a sparkline."""
    return [[at.isoformat(), value] for at, value in sorted(series.items())]
