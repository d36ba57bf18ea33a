"""Look-ups shared by the CloudFormation checks (no check lives here).

A stack's resources as `ListStackResources` reports them (with each one's drift
status), and the source's DynamoDB tables that no stack manages: drift
detection only sees what a stack declares, so a table made by hand in the
console never shows up as drift, yet the target must declare it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code, is_access_denied

# Resource types whose physical ID is a DynamoDB table name.
TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"})
GONE_CODES = frozenset({"ValidationError", "ResourceNotFoundException"})


def stack_resources(cfn: Any, stack: str) -> list[dict[str, Any]]:
    """Every resource of `stack`, with `DriftInformation` when AWS has any."""
    return [
        summary
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        for summary in page.get("StackResourceSummaries", [])
    ]


def _keys(schema: list[dict[str, Any]], types: Mapping[str, str]) -> str:
    return ", ".join(
        f"{k['AttributeName']} ({types.get(k['AttributeName'], '?')}) {k['KeyType']}"
        for k in schema
    )


def _optional(call: Callable[[], dict[str, Any]]) -> dict[str, Any] | str:
    """A per-table read whose denial leaves the rest of the description useful."""
    try:
        return call()
    except ClientError as exc:
        if is_access_denied(exc):
            return f"unknown ({error_code(exc)})"
        raise


def describe_table(ddb: Any, name: str) -> dict[str, Any] | None:
    """What a template needs to redeclare `name`; None if the table is gone meanwhile."""
    try:
        table = ddb.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if error_code(exc) in GONE_CODES:
            return None
        raise
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    entry: dict[str, Any] = {
        "name": name,
        "arn": table.get("TableArn"),
        "status": table.get("TableStatus"),
        "key_schema": _keys(table.get("KeySchema", []), types),
        "attribute_definitions": types,
        "billing_mode": billing,
        "global_indexes": {
            i["IndexName"]: _keys(i.get("KeySchema", []), types)
            for i in table.get("GlobalSecondaryIndexes", [])
        },
        "local_indexes": {
            i["IndexName"]: _keys(i.get("KeySchema", []), types)
            for i in table.get("LocalSecondaryIndexes", [])
        },
        "stream": table.get("StreamSpecification", {}).get("StreamViewType"),
        "sse": table.get("SSEDescription", {}).get("SSEType"),
        "table_class": table.get("TableClassSummary", {}).get("TableClass"),
        "deletion_protection": table.get("DeletionProtectionEnabled"),
        "replica_regions": [r.get("RegionName") for r in table.get("Replicas", [])],
    }
    if billing == "PROVISIONED":
        throughput = table.get("ProvisionedThroughput", {})
        entry["provisioned"] = {
            "read": throughput.get("ReadCapacityUnits"),
            "write": throughput.get("WriteCapacityUnits"),
        }
    ttl = _optional(lambda: ddb.describe_time_to_live(TableName=name))
    entry["ttl"] = (
        ttl
        if isinstance(ttl, str)
        else (
            ttl.get("TimeToLiveDescription", {}).get("AttributeName")
            if ttl.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") == "ENABLED"
            else None
        )
    )
    backups = _optional(lambda: ddb.describe_continuous_backups(TableName=name))
    entry["point_in_time_recovery"] = (
        backups
        if isinstance(backups, str)
        else backups.get("ContinuousBackupsDescription", {})
        .get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus")
    )
    arn = entry["arn"]
    tags = _optional(lambda: _tags(ddb, arn)) if arn else {}
    entry["tags"] = tags
    return entry


def _tags(ddb: Any, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for page in ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn):
        found.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
    return found


def table_line(table: Mapping[str, Any]) -> str:
    """One detail line: enough to start the table's template snippet."""
    parts = [f"keys {table['key_schema']}", str(table["billing_mode"])]
    if table.get("provisioned"):
        parts.append(f"RCU {table['provisioned']['read']}/WCU {table['provisioned']['write']}")
    for kind, key in (("GSI", "global_indexes"), ("LSI", "local_indexes")):
        parts.extend(f"{kind} {n}: {k}" for n, k in table[key].items())
    for label, key in (
        ("stream", "stream"),
        ("TTL", "ttl"),
        ("PITR", "point_in_time_recovery"),
        ("SSE", "sse"),
        ("class", "table_class"),
    ):
        if table.get(key):
            parts.append(f"{label} {table[key]}")
    if table.get("replica_regions"):
        parts.append(f"global table replicas in {', '.join(table['replica_regions'])}")
    if table.get("tags"):
        parts.append(f"{len(table['tags'])} tags" if isinstance(table["tags"], dict) else "tags ?")
    return f"table {table['name']}: " + "; ".join(parts)


def unmanaged_tables(
    ddb: Any, cfn: Any, known: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The region's tables that no stack of the account declares, each described.

    Every stack counts (`ListStacks`), not only the runbook's: a table is
    "made by hand" only if no stack at all manages it. `known` holds resource
    lists already read, by stack name. A deleted stack no longer manages its
    retained tables, so DELETE_COMPLETE stacks are left out.
    """
    tables = [
        name
        for page in ddb.get_paginator("list_tables").paginate()
        for name in page.get("TableNames", [])
    ]
    if not tables:
        return []
    managed: set[str] = set()
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page.get("StackSummaries", []):
            if summary.get("StackStatus") == "DELETE_COMPLETE":
                continue
            name = summary["StackName"]
            resources = known.get(name)
            if resources is None:
                try:
                    resources = stack_resources(cfn, summary.get("StackId") or name)
                except ClientError as exc:
                    if error_code(exc) in GONE_CODES:
                        continue  # deleted between the two calls
                    raise
            managed.update(
                str(r["PhysicalResourceId"])
                for r in resources
                if r.get("ResourceType") in TABLE_TYPES and r.get("PhysicalResourceId")
            )
    described = (describe_table(ddb, name) for name in tables if name not in managed)
    return [entry for entry in described if entry is not None]
