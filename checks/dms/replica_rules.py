"""Which source replicas AWS DMS can capture changes (CDC) from (no check lives here).

From the AWS documentation, as read for dms.source_replica:
- AWS DMS user guide, "Using a MySQL-compatible database as a source" (CHAP_Source.MySQL):
  "You can't use Aurora MySQL read replicas as a source for AWS DMS" unless the task
  only migrates existing data (full load); an AWS-managed source needs automated
  backups and `binlog_format` ROW, and "If you are using an Amazon RDS MySQL or
  Amazon RDS MariaDB read replica as a source, then backups must be enabled on the
  read replica".
- Amazon RDS user guide, "Logical decoding on a read replica"
  (USER_PostgreSQL.Replication.ReadReplicas.LogicalDecoding): RDS for PostgreSQL
  supports logical replication from standbys from PostgreSQL 16.1, with the static
  parameter `rds.logical_replication` = 1 on the source and its replica.
- AWS DMS user guide, "Using a PostgreSQL database as a source" (CHAP_Source.PostgreSQL):
  a PostgreSQL 16.x source needs AWS DMS engine 3.5.3 or higher.
- Aurora PostgreSQL's logical replication (what DMS CDC reads) runs on the writer;
  its replicas share the cluster volume and decode nothing, so they are treated
  like Aurora MySQL's.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code, is_access_denied
from runbook.checkapi import CheckContext

CDC_TYPES = frozenset({"cdc", "full-load-and-cdc"})
MYSQL_ENGINES = frozenset({"mysql", "mariadb"})
POSTGRES_MIN_MAJOR = 16
DMS_MIN_FOR_PG16 = (3, 5, 3)


def is_aurora(engine: str | None) -> bool:
    return str(engine or "").startswith("aurora")


def version_tuple(version: str | None) -> tuple[int, ...] | None:
    """Leading numeric parts: "3.5.3" is (3, 5, 3), "16.3" is (16, 3); None if there are none."""
    parts = re.findall(r"\d+", str(version or "").split("-")[0])
    return tuple(int(p) for p in parts) if parts else None


def parameter_values(
    ctx: CheckContext, group: str, names: set[str]
) -> tuple[dict[str, str | None], str | None]:
    """({name: value set in the group, None when the engine default applies}, problem)."""
    rds = ctx.client("source", "rds")
    found: dict[str, str | None] = {name: None for name in names}
    try:
        for page in rds.get_paginator("describe_db_parameters").paginate(
            DBParameterGroupName=group
        ):
            for p in page.get("Parameters", []):
                if p.get("ParameterName") in names and p.get("ParameterValue") is not None:
                    found[str(p["ParameterName"])] = str(p["ParameterValue"])
    except ClientError as exc:
        why = "access denied to rds:DescribeDBParameters" if is_access_denied(exc) else None
        return found, f"could not read parameter group {group} ({why or error_code(exc)})"
    return found, None


def _group_of(instance: dict[str, Any]) -> str | None:
    groups = instance.get("DBParameterGroups") or []
    return str(groups[0]["DBParameterGroupName"]) if groups else None


def mysql_replica_problems(
    ctx: CheckContext, instance: dict[str, Any], evidence: dict[str, Any]
) -> list[str]:
    """What keeps DMS from reading the binary log of an RDS MySQL/MariaDB replica."""
    name = str(instance["DBInstanceIdentifier"])
    problems: list[str] = []
    retention = int(instance.get("BackupRetentionPeriod") or 0)
    evidence["backup_retention_period"] = retention
    if retention <= 0:
        # Backups off means no binary log on the replica: nothing for CDC to read.
        problems.append(
            f"automated backups are off on {name} (BackupRetentionPeriod 0): turn them on "
            "(backup retention of 1 day or more) so the replica keeps a binary log"
        )
    group = _group_of(instance)
    evidence["parameter_group"] = group
    if group is None:
        problems.append(f"{name} reports no DB parameter group: cannot confirm binlog_format ROW")
        return problems
    values, problem = parameter_values(ctx, group, {"binlog_format"})
    binlog = values["binlog_format"]
    evidence["binlog_format"] = binlog
    if problem is not None:
        problems.append(f"{problem}: cannot confirm binlog_format ROW on {name}")
    elif str(binlog).upper() != "ROW":
        shown = binlog or "unset (the engine default, not ROW)"
        problems.append(
            f"binlog_format {shown} in parameter group {group} of {name}, not ROW: DMS CDC "
            "needs row-based binary logging (set binlog_format=ROW in the replica's group)"
        )
    return problems


def postgres_replica_problems(
    ctx: CheckContext,
    instance: dict[str, Any],
    dms_instance: dict[str, Any],
    evidence: dict[str, Any],
) -> list[str]:
    """What keeps DMS from decoding changes on an RDS for PostgreSQL read replica."""
    name = str(instance["DBInstanceIdentifier"])
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    version = str(instance.get("EngineVersion") or "unknown")
    evidence["engine_version"] = version
    parsed = version_tuple(version)
    if parsed is None or parsed[0] < POSTGRES_MIN_MAJOR:
        return [
            f"{name} runs PostgreSQL {version}: a read replica can be a CDC source only from "
            f"PostgreSQL {POSTGRES_MIN_MAJOR} (logical decoding on a standby); point DMS at "
            f"{source} for CDC, or upgrade to PostgreSQL {POSTGRES_MIN_MAJOR} or later"
        ]
    problems: list[str] = []
    dms_version = dms_instance.get("EngineVersion")
    evidence["dms_engine_version"] = dms_version
    dms_parsed = version_tuple(dms_version)
    wanted = ".".join(str(n) for n in DMS_MIN_FOR_PG16)
    if dms_parsed is None or dms_parsed < DMS_MIN_FOR_PG16:
        problems.append(
            f"replication instance {dms_instance.get('ReplicationInstanceIdentifier')} runs "
            f"DMS {dms_version or 'of an unknown version'}: PostgreSQL {version} needs DMS "
            f"{wanted} or later (upgrade the replication instance)"
        )
    group = _group_of(instance)
    evidence["parameter_group"] = group
    if group is None:
        problems.append(f"{name} reports no DB parameter group: cannot confirm logical replication")
        return problems
    values, problem = parameter_values(ctx, group, {"rds.logical_replication"})
    logical = values["rds.logical_replication"]
    evidence["rds_logical_replication"] = logical
    if problem is not None:
        problems.append(f"{problem}: cannot confirm rds.logical_replication on {name}")
    elif logical != "1":
        problems.append(
            f"rds.logical_replication is {logical or 'unset'} in parameter group {group} of "
            f"{name}, not 1: set it on {source} and {name} (static: reboot) for logical decoding"
        )
    return problems
