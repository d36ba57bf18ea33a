"""dms.source_replica per engine: the replica must be one DMS can capture changes from.

AWS DMS documents (CHAP_Source.MySQL): Aurora MySQL replicas cannot be a CDC source
(full load only); an RDS MySQL or MariaDB read replica needs automated backups on the
replica and `binlog_format` ROW. RDS for PostgreSQL decodes logically on a read
replica from PostgreSQL 16 (USER_PostgreSQL.Replication.ReadReplicas.LogicalDecoding,
`rds.logical_replication` = 1), and DMS reads PostgreSQL 16 from engine 3.5.3.
"""

from __future__ import annotations

from typing import Any

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients, result_text
from tests.support.checks import run_check as run
from tests.support.dms_endpoints import (
    binlog_ready,
    configure_replica,
    fail_operation,
    parameter_group,
)
from tests.support.dmsworld import TASK, SourceDb, make_task


def aurora_cluster(clients: Clients, engine: str = "aurora-mysql") -> dict[str, Any]:
    rds = clients("source", "rds")
    rds.create_db_cluster(
        DBClusterIdentifier="prod-aurora",
        Engine=engine,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )
    for name in ("prod-aurora-1", "prod-aurora-2"):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="prod-aurora",
            Engine=engine,
            DBInstanceClass="db.r6g.large",
        )
    cluster: dict[str, Any] = rds.describe_db_clusters(DBClusterIdentifier="prod-aurora")[
        "DBClusters"
    ][0]
    return cluster


@pytest.mark.parametrize("engine", ["aurora-mysql", "aurora-postgresql"])
def test_aurora_reader_endpoint_fails_for_cdc(
    check_context: CheckContext, clients: Clients, engine: str
) -> None:
    cluster = aurora_cluster(clients, engine)
    make_task(clients, cluster["ReaderEndpoint"])
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "cannot capture changes from an Aurora replica" in result.summary
    # The supported alternative is named: the cluster (writer) endpoint.
    assert cluster["Endpoint"] in result_text(result)


def test_aurora_reader_instance_fails_for_cdc(
    check_context: CheckContext, clients: Clients
) -> None:
    aurora_cluster(clients)
    reader = clients("source", "rds").describe_db_instances(DBInstanceIdentifier="prod-aurora-2")[
        "DBInstances"
    ][0]
    make_task(clients, reader["Endpoint"]["Address"])
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "prod-aurora-2" in result.summary and "Aurora replica" in result.summary


def test_aurora_reader_endpoint_passes_for_full_load_only(
    check_context: CheckContext, clients: Clients
) -> None:
    cluster = aurora_cluster(clients)
    make_task(clients, cluster["ReaderEndpoint"], migration_type="full-load")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["readers"] == ["prod-aurora-2"]


def test_aurora_writer_endpoint_is_the_cdc_source_and_warns(
    check_context: CheckContext, clients: Clients
) -> None:
    cluster = aurora_cluster(clients)
    make_task(clients, cluster["Endpoint"])
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert "the writer is the only supported CDC source" in result.summary


def test_rds_mysql_replica_without_backups_fails(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    binlog_ready(clients, "prod-db-replica")
    configure_replica(clients, "prod-db-replica", backup_retention=0)
    make_task(clients, source_db.replica_host)
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "automated backups are off on prod-db-replica" in result.summary
    assert result.evidence["backup_retention_period"] == 0


@pytest.mark.parametrize("binlog", ["MIXED", None])
def test_rds_mysql_replica_without_row_binlog_fails(
    check_context: CheckContext, clients: Clients, source_db: SourceDb, binlog: str | None
) -> None:
    values = {"binlog_format": binlog} if binlog else {}
    group = parameter_group(clients, "replica-params", "mysql5.6", values)
    configure_replica(clients, "prod-db-replica", group=group)
    make_task(clients, source_db.replica_host)
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "binlog_format" in result.summary and "not ROW" in result.summary
    assert "replica-params" in result.summary


def test_rds_mysql_replica_with_unreadable_parameter_group_is_not_a_pass(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    binlog_ready(clients, "prod-db-replica")
    make_task(clients, source_db.replica_host)
    rds = check_context.client("source", "rds")
    fail_operation(rds, "DescribeDBParameters", "AccessDenied")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "could not read parameter group prod-db-replica-cdc" in result.summary
    assert "rds:DescribeDBParameters" in result.summary


def test_rds_mysql_replica_with_backups_and_row_binlog_passes(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    binlog_ready(clients, "prod-db-replica")
    make_task(clients, source_db.replica_host)
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["binlog_format"] == "ROW"


def mariadb_replica(clients: Clients) -> str:
    rds = clients("source", "rds")
    rds.create_db_instance(
        DBInstanceIdentifier="maria",
        Engine="mariadb",
        EngineVersion="10.11.6",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
    )
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier="maria-replica", SourceDBInstanceIdentifier="maria"
    )["DBInstance"]
    return str(replica["Endpoint"]["Address"])


def test_mariadb_replica_follows_the_mysql_rules(
    check_context: CheckContext, clients: Clients
) -> None:
    host = mariadb_replica(clients)
    group = parameter_group(clients, "maria-cdc", "mariadb10.11", {"binlog_format": "STATEMENT"})
    configure_replica(clients, "maria-replica", group=group)
    make_task(clients, host)
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "binlog_format STATEMENT" in result.summary


def postgres_replica(clients: Clients, version: str) -> str:
    rds = clients("source", "rds")
    rds.create_db_instance(
        DBInstanceIdentifier="pg",
        Engine="postgres",
        EngineVersion=version,
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
    )
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier="pg-replica", SourceDBInstanceIdentifier="pg"
    )["DBInstance"]
    return str(replica["Endpoint"]["Address"])


def pg_task(clients: Clients, host: str, dms_version: str) -> None:
    clients("target", "dms").create_replication_instance(
        ReplicationInstanceIdentifier="cutover-ri",
        ReplicationInstanceClass="dms.t3.medium",
        EngineVersion=dms_version,
    )
    make_task(clients, host)


def test_postgres_replica_before_16_fails_for_cdc(
    check_context: CheckContext, clients: Clients
) -> None:
    pg_task(clients, postgres_replica(clients, "15.5"), "3.5.3")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "PostgreSQL 15.5" in result.summary and "16" in result.summary


def test_postgres_16_replica_needs_a_recent_dms_engine(
    check_context: CheckContext, clients: Clients
) -> None:
    host = postgres_replica(clients, "16.3")
    group = parameter_group(clients, "pg-cdc", "postgres16", {"rds.logical_replication": "1"})
    configure_replica(clients, "pg-replica", group=group)
    pg_task(clients, host, "3.5.1")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "3.5.1" in result.summary and "3.5.3" in result.summary


def test_postgres_16_replica_needs_logical_replication(
    check_context: CheckContext, clients: Clients
) -> None:
    host = postgres_replica(clients, "16.3")
    group = parameter_group(clients, "pg-cdc", "postgres16", {"rds.logical_replication": "0"})
    configure_replica(clients, "pg-replica", group=group)
    pg_task(clients, host, "3.5.3")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "rds.logical_replication" in result.summary


def test_postgres_16_replica_with_logical_replication_and_dms_353_passes(
    check_context: CheckContext, clients: Clients
) -> None:
    host = postgres_replica(clients, "16.3")
    group = parameter_group(clients, "pg-cdc", "postgres16", {"rds.logical_replication": "1"})
    configure_replica(clients, "pg-replica", group=group)
    pg_task(clients, host, "3.5.4")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert "pg-replica, a read replica of pg" in result.summary
