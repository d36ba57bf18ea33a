"""dms.source_replica: the task's source endpoint is a read replica in the source account."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients
from tests.support.checks import run_check as run
from tests.support.dms_endpoints import binlog_ready
from tests.support.dmsworld import TASK, SourceDb, make_task


def test_endpoint_on_read_replica_passes(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    binlog_ready(clients, "prod-db-replica")  # backups on, binlog_format ROW: CDC can read it
    make_task(clients, source_db.replica_host)
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert "prod-db-replica, a read replica of prod-db" in result.summary


def test_endpoint_on_writer_fails_naming_it(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.writer_host.upper() + ".")  # DNS names: case, trailing dot
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "DMS reads the writer" in result.summary and "is prod-db," in result.summary
    assert result.evidence["writer"] == ["prod-db"]
    assert "read replicas of prod-db: prod-db-replica" in result.details


@pytest.fixture
def aurora(clients: Clients) -> dict[str, Any]:
    rds = clients("source", "rds")
    rds.create_db_cluster(
        DBClusterIdentifier="prod-aurora",
        Engine="aurora-mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )
    for name in ("prod-aurora-1", "prod-aurora-2"):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="prod-aurora",
            Engine="aurora-mysql",
            DBInstanceClass="db.r6g.large",
        )
    cluster: dict[str, Any] = rds.describe_db_clusters(DBClusterIdentifier="prod-aurora")[
        "DBClusters"
    ][0]
    return cluster


def test_cluster_writer_endpoint_fails_naming_writer(
    check_context: CheckContext, clients: Clients, aurora: dict[str, Any]
) -> None:
    # Full load only: a reader would do. (Aurora CDC needs the writer: see the engine tests.)
    make_task(clients, aurora["Endpoint"], migration_type="full-load")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "writer endpoint (writer instance prod-aurora-1)" in result.summary
    assert any(aurora["ReaderEndpoint"] in d for d in result.details)


def test_cluster_reader_endpoint_passes_for_full_load(
    check_context: CheckContext, clients: Clients, aurora: dict[str, Any]
) -> None:
    make_task(clients, aurora["ReaderEndpoint"], migration_type="full-load")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["readers"] == ["prod-aurora-2"]


def test_reader_endpoint_of_a_writer_only_cluster_fails(
    check_context: CheckContext, clients: Clients
) -> None:
    rds = clients("source", "rds")
    rds.create_db_cluster(
        DBClusterIdentifier="solo",
        Engine="aurora-mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )
    rds.create_db_instance(
        DBInstanceIdentifier="solo-1",
        DBClusterIdentifier="solo",
        Engine="aurora-mysql",
        DBInstanceClass="db.r6g.large",
    )
    reader = rds.describe_db_clusters(DBClusterIdentifier="solo")["DBClusters"][0]["ReaderEndpoint"]
    make_task(clients, reader)
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "no reader instance" in result.summary and "writer solo-1" in result.summary


def test_unknown_server_name_fails_and_alias_for_resolves_it(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    binlog_ready(clients, "prod-db-replica")
    make_task(clients, "vpce-0abc-xyz.vpce-svc-0123.us-east-1.vpce.amazonaws.com")
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "is not the endpoint of any DB instance or cluster" in result.summary
    assert "alias_for" in result.summary

    aliased = run(
        check_context,
        "dms.source_replica",
        {"task_id": TASK, "alias_for": source_db.replica_host},
    )
    assert aliased.status == Status.PASS, aliased
