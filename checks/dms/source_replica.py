"""dms.source_replica: DMS reads a replica it can capture changes from, never the live writer.

The playbook points DMS at a read replica so the migration's load stays off the
production writer. The endpoint's `ServerName` is matched against every DB
instance and cluster endpoint in the source account, then judged by engine
against what AWS DMS documents (see `checks.dms.replica_rules`):

- RDS MySQL/MariaDB read replica: passes with automated backups on and
  `binlog_format` ROW in its parameter group;
- RDS PostgreSQL read replica: passes from PostgreSQL 16 with
  `rds.logical_replication` = 1 and a DMS engine of 3.5.3 or later;
- Aurora replica (reader endpoint or reader instance): fails for a CDC task (DMS
  cannot capture changes from it) and passes for a full-load-only task; the
  Aurora cluster endpoint is then the supported CDC source, which warns;
- any other writer fails and is named.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from checks.dms.common import (
    DbMatch,
    DmsAccount,
    Missing,
    TaskRef,
    describe_instance,
    describe_task,
    source_db_of_task,
)
from checks.dms.replica_rules import (
    CDC_TYPES,
    MYSQL_ENGINES,
    is_aurora,
    mysql_replica_problems,
    postgres_replica_problems,
)
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult


class SourceReplicaParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The replication task's identifier or ARN.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")
    alias_for: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "When the endpoint's ServerName is an alias (a CNAME, a PrivateLink endpoint's "
            "DNS name), the RDS hostname it stands for; that database is judged instead."
        ),
    )


def _aurora_replica(
    db: DbMatch, what: str, details: list[str], evidence: dict[str, Any]
) -> CheckResult:
    """An Aurora replica under a CDC task: unsupported, with the supported alternative."""
    cluster = db.cluster or {}
    writer = cluster.get("Endpoint")
    details.append(
        f"supported instead: the cluster endpoint {writer} (the writer) for CDC, or a "
        "full-load-only task from the reader endpoint"
    )
    return CheckResult.failed(
        f"DMS cannot capture changes from an Aurora replica: {what} "
        f"({cluster.get('Engine')}); point the source endpoint at the cluster endpoint {writer}",
        details,
        **evidence,
    )


class SourceReplicaCheck(Check[SourceReplicaParams]):
    meta = CheckMeta(
        id="dms.source_replica",
        title="DMS reads the source database from a replica it can capture changes from",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=(
            "dms:DescribeReplicationTasks",
            "dms:DescribeReplicationInstances",
            "dms:DescribeEndpoints",
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusters",
            "rds:DescribeDBParameters",
        ),
        remediation=(
            "Point the DMS source endpoint's server name at a read replica DMS can capture "
            "changes from, so the migration load stays off the production writer: an RDS "
            "MySQL/MariaDB replica with automated backups on and binlog_format=ROW in its "
            "parameter group, or an RDS PostgreSQL 16+ replica with rds.logical_replication=1 "
            "(DMS engine 3.5.3 or later). Aurora replicas cannot be a CDC source: use the "
            "Aurora cluster endpoint. Stop the task, modify the endpoint, test the connection, "
            "then resume with resume-processing."
        ),
    )
    params_model = SourceReplicaParams

    def run(self, ctx: CheckContext, params: SourceReplicaParams) -> CheckResult:
        try:
            task = describe_task(ctx, params.account, params.task_id)
            endpoint, db = source_db_of_task(ctx, params.account, task, params.alias_for)
        except Missing as exc:
            return CheckResult.failed(str(exc))
        server = str(endpoint.get("ServerName"))
        migration_type = str(task.get("MigrationType", "unknown"))
        cdc = migration_type in CDC_TYPES
        engine = str((db.instance or db.cluster or {}).get("Engine") or "unknown")
        evidence: dict[str, Any] = {
            "server_name": server,
            "alias_for": params.alias_for,
            "matched": db.kind,
            "db": db.name,
            "engine": engine,
            "migration_type": migration_type,
        }
        details = [f"ServerName {server} is {db.kind.replace('_', ' ')} {db.name} ({engine})"]
        aurora = is_aurora(engine)

        if db.kind == "cluster_writer":
            writers = db.writer_members()
            evidence["writer"] = writers
            if aurora and cdc:
                # DMS cannot capture changes from an Aurora replica: the writer is the
                # documented CDC source, so this is the right endpoint, at a cost.
                details.append("size the writer for the full load and CDC reads")
                return CheckResult.warned(
                    f"DMS reads Aurora cluster {db.name}'s writer endpoint: the writer is the "
                    f"only supported CDC source for Aurora ({migration_type})",
                    details,
                    **evidence,
                )
            details.append(f"use the reader endpoint {(db.cluster or {}).get('ReaderEndpoint')}")
            return CheckResult.failed(
                f"DMS reads the writer: {server} is cluster {db.name}'s writer endpoint "
                f"(writer instance {', '.join(writers) or 'unknown'})",
                details,
                **evidence,
            )
        if db.kind == "cluster_reader":
            readers = db.reader_members()
            evidence["readers"] = readers
            if not readers:
                writers = db.writer_members()
                evidence["writer"] = writers
                return CheckResult.failed(
                    f"DMS reads the writer: cluster {db.name} has no reader instance, so its "
                    f"reader endpoint resolves to writer {', '.join(writers) or 'unknown'}",
                    details,
                    **evidence,
                )
            if aurora and cdc:
                return _aurora_replica(
                    db, f"{server} is cluster {db.name}'s reader endpoint", details, evidence
                )
            return CheckResult.passed(
                f"DMS reads cluster {db.name}'s reader endpoint ({', '.join(readers)}) "
                f"for a {migration_type} task",
                details,
                **evidence,
            )

        instance = db.instance
        assert instance is not None
        if db.cluster is not None:
            cluster_id = db.cluster["DBClusterIdentifier"]
            if db.name in db.writer_members():
                evidence["writer"] = [db.name]
                if aurora and cdc:
                    details.append(
                        f"a failover makes {db.name} a reader, which DMS cannot capture "
                        f"changes from: prefer the cluster endpoint {db.cluster.get('Endpoint')}"
                    )
                    return CheckResult.warned(
                        f"DMS reads {db.name}, the writer of Aurora cluster {cluster_id}, by its "
                        "instance endpoint: the writer is the only supported CDC source",
                        details,
                        **evidence,
                    )
                details.append(f"use the reader endpoint {db.cluster.get('ReaderEndpoint')}")
                return CheckResult.failed(
                    f"DMS reads the writer: {db.name} is the writer of cluster {cluster_id}",
                    details,
                    **evidence,
                )
            if aurora and cdc:
                return _aurora_replica(
                    db, f"{db.name} is a reader of cluster {cluster_id}", details, evidence
                )
            # A reader instance is a replica today, but a failover can promote it.
            details.append(
                f"a failover can promote {db.name}; the reader endpoint "
                f"{db.cluster.get('ReaderEndpoint')} follows the readers"
            )
            return CheckResult.warned(
                f"DMS reads {db.name}, a reader of cluster {cluster_id}, by its instance endpoint",
                details,
                **evidence,
            )

        replica_of = instance.get("ReadReplicaSourceDBInstanceIdentifier")
        if not replica_of:
            evidence["writer"] = [db.name]
            replicas = [str(r) for r in instance.get("ReadReplicaDBInstanceIdentifiers") or []]
            if replicas:
                details.append(f"read replicas of {db.name}: {', '.join(replicas)}")
            else:
                details.append(f"{db.name} has no read replica: create one first")
            return CheckResult.failed(
                f"DMS reads the writer: {server} is {db.name}, not a read replica",
                details,
                **evidence,
            )
        evidence["replica_of"] = replica_of
        summary = f"DMS reads {db.name}, a read replica of {replica_of}"
        if not cdc:
            return CheckResult.passed(f"{summary} ({migration_type})", details, **evidence)
        if engine in MYSQL_ENGINES:
            problems = mysql_replica_problems(ctx, instance, evidence)
        elif engine == "postgres":
            dms_instance = describe_instance(
                ctx, params.account, str(task["ReplicationInstanceArn"])
            )
            problems = postgres_replica_problems(ctx, instance, dms_instance, evidence)
        else:
            details.append(f"CDC prerequisites of a {engine} replica are not judged by this check")
            return CheckResult.warned(
                f"{summary}; CDC from a {engine} replica not verified", details, **evidence
            )
        if problems:
            details.extend(problems)
            return CheckResult.failed(
                f"{db.name} cannot be DMS's CDC source: {'; '.join(problems)}", details, **evidence
            )
        return CheckResult.passed(summary, details, **evidence)
