"""dms.source_replica: the DMS source endpoint reads a replica, never the live writer.

The playbook points DMS at a read replica so the migration's load stays off the
production writer. The endpoint's `ServerName` is matched against every DB
instance and cluster endpoint in the source account: a replica instance
(`ReadReplicaSourceDBInstanceIdentifier` set) or a cluster reader endpoint with
at least one reader passes; the writer, in any form, fails and is named.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from checks.dms.common import DmsAccount, Missing, TaskRef, describe_task, source_db_of_task
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


class SourceReplicaCheck(Check[SourceReplicaParams]):
    meta = CheckMeta(
        id="dms.source_replica",
        title="DMS reads the source database from a read replica, not the writer",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=(
            "dms:DescribeReplicationTasks",
            "dms:DescribeEndpoints",
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusters",
        ),
        remediation=(
            "Point the DMS source endpoint's server name at a read replica of the source "
            "database (or an Aurora cluster's reader endpoint) so the migration load stays off "
            "the production writer: stop the task, modify the endpoint, test the connection, "
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
        evidence: dict[str, Any] = {
            "server_name": server,
            "alias_for": params.alias_for,
            "matched": db.kind,
            "db": db.name,
        }
        details = [f"ServerName {server} is {db.kind.replace('_', ' ')} {db.name}"]

        if db.kind == "cluster_writer":
            writers = db.writer_members()
            evidence["writer"] = writers
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
            return CheckResult.passed(
                f"DMS reads cluster {db.name}'s reader endpoint ({', '.join(readers)})",
                details,
                **evidence,
            )

        instance = db.instance
        assert instance is not None
        replica_of = instance.get("ReadReplicaSourceDBInstanceIdentifier")
        if replica_of:
            evidence["replica_of"] = replica_of
            return CheckResult.passed(
                f"DMS reads {db.name}, a read replica of {replica_of}", details, **evidence
            )
        if db.cluster is not None:
            if db.name in db.writer_members():
                evidence["writer"] = [db.name]
                details.append(f"use the reader endpoint {db.cluster.get('ReaderEndpoint')}")
                return CheckResult.failed(
                    f"DMS reads the writer: {db.name} is the writer of cluster "
                    f"{db.cluster['DBClusterIdentifier']}",
                    details,
                    **evidence,
                )
            # A reader instance is a replica today, but a failover can promote it.
            details.append(
                f"a failover can promote {db.name}; the reader endpoint "
                f"{db.cluster.get('ReaderEndpoint')} follows the readers"
            )
            return CheckResult.warned(
                f"DMS reads {db.name}, a reader of cluster {db.cluster['DBClusterIdentifier']}, "
                "by its instance endpoint",
                details,
                **evidence,
            )
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
