"""Requests about the source database: the replica DMS reads, and its writes at the cutover.

From the AWS documentation (as read for dms.source_replica): an RDS MySQL or
MariaDB read replica used as a DMS CDC source needs automated backups on the
replica and `binlog_format` ROW; binary logs are kept only as long as
`binlog retention hours` says (NULL, the default, keeps none). An RDS PostgreSQL
replica needs PostgreSQL 16+ and the static `rds.logical_replication` = 1 on the
writer and the replica. MySQL applies a database-level REVOKE to an open session
only at its next `USE`: sessions the application holds open must be ended.
"""

from __future__ import annotations

from typing import Any

from runbook.handoff.context import Context, param
from runbook.handoff.model import Command, Request

REPLICA = "dms.source_replica"
WRITES = "source.writes_stopped"
MYSQL = ("mysql", "mariadb")
APP_USER = "<app_user>"
SCHEMA = "<schema>"
CONSOLE_RDS = "RDS console > Databases > {db} > Modify"


def _db_facts(ctx: Context) -> list[tuple[str, str, dict[str, Any]]]:
    """(task id, step id, evidence) per DMS task whose source replica the runbook checks."""
    seen: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for step, params in ctx.refs(REPLICA):
        task = str(param(params, "task_id", "<dms-task>"))
        seen.setdefault(task, (task, step.id, ctx.evidence.of(REPLICA, step.id)))
    return list(seen.values())


def engine_family(engine: str) -> str:
    """mysql, postgres, aurora-mysql, aurora-postgresql, or unknown."""
    if engine in MYSQL:
        return "mysql"
    if engine in ("postgres", "aurora-mysql", "aurora-postgresql"):
        return engine
    if engine == "aurora":
        return "aurora-mysql"
    return "unknown"


def _names(evidence: dict[str, Any]) -> tuple[str, str, str]:
    """(replica, writer, replica's parameter group): real where the evidence says."""
    replica_of = evidence.get("replica_of")
    replica = str(evidence["db"]) if replica_of and evidence.get("db") else "<read-replica-id>"
    writers = evidence.get("writer") or []
    writer = str(replica_of or (writers[0] if writers else "<source-writer-id>"))
    group = str(evidence.get("parameter_group") or "<replica-parameter-group>")
    return replica, writer, group


def writer_arn(ctx: Context) -> tuple[str, str]:
    """(writer ARN, engine family) of the first DMS task's source database."""
    facts = _db_facts(ctx)
    evidence = facts[0][2] if facts else {}
    _replica, writer, _group = _names(evidence)
    return ctx.arn("rds", f"db:{writer}"), engine_family(str(evidence.get("engine") or ""))


def replica_requests(ctx: Context) -> list[Request]:
    out: list[Request] = []
    region = ctx.source.region
    for task, step, evidence in _db_facts(ctx):
        family = engine_family(str(evidence.get("engine") or ""))
        replica, writer, group = _names(evidence)
        verify = ctx.verify(REPLICA, step)
        seen = [f"latest {REPLICA}: DMS reads {evidence.get('db')} ({evidence.get('engine')})"]
        seen = seen if evidence else []
        if family.startswith("aurora"):
            out.append(_aurora(ctx, task, step, evidence, family))
            continue
        out.append(
            Request(
                key=f"replica:{task}",
                phase="before",
                title=f"A read replica for DMS task {task} to read",
                arn=ctx.arn("rds", f"db:{replica}"),
                reason=(
                    "DMS must read a replica, never the production writer, so the full load "
                    f"and CDC reads stay off {writer}"
                ),
                verify=verify,
                when_step=step,
                commands=(
                    Command(
                        "rds",
                        "CreateDBInstanceReadReplica",
                        {
                            "DBInstanceIdentifier": replica,
                            "SourceDBInstanceIdentifier": writer,
                            "DBParameterGroupName": group,
                        },
                        region,
                    ),
                ),
                console=f"RDS console > Databases > {writer} > Actions > Create read replica",
                notes=("skip if the replica exists; tell us its identifier",),
                evidence=tuple(seen),
            )
        )
        if family in ("mysql", "unknown"):
            out.extend(_mysql(ctx, task, step, replica, group, family == "unknown"))
        if family in ("postgres", "unknown"):
            out.append(_postgres(ctx, task, step, replica, writer, group, family == "unknown"))
    return out


def _mysql(
    ctx: Context, task: str, step: str, replica: str, group: str, tagged: bool
) -> list[Request]:
    region, label = ctx.source.region, " (MySQL/MariaDB source)" if tagged else ""
    verify = ctx.verify(REPLICA, step)
    return [
        Request(
            key=f"replica-backups:{task}",
            phase="before",
            title=f"Automated backups on the replica{label}",
            arn=ctx.arn("rds", f"db:{replica}"),
            reason=(
                "AWS DMS: an RDS MySQL/MariaDB read replica used as a source must have backups "
                "enabled (RDS writes binary logs only with automated backups on)"
            ),
            verify=verify,
            when_step=step,
            commands=(
                Command(
                    "rds",
                    "ModifyDBInstance",
                    {
                        "DBInstanceIdentifier": replica,
                        "BackupRetentionPeriod": 1,
                        "ApplyImmediately": True,
                    },
                    region,
                ),
            ),
            console=CONSOLE_RDS.format(db=replica) + " > Backup retention period: 1 day or more",
        ),
        Request(
            key=f"replica-binlog:{task}",
            phase="before",
            title=f"binlog_format ROW on the replica, binary logs kept 24 h{label}",
            arn=ctx.arn("rds", f"pg:{group}"),
            reason=(
                "DMS CDC reads row-based binary logs; RDS keeps none by default "
                "(binlog retention hours NULL), so a paused task would lose its position"
            ),
            verify=verify,
            when_step=step,
            commands=(
                Command(
                    "rds",
                    "ModifyDBParameterGroup",
                    {
                        "DBParameterGroupName": group,
                        "Parameters": [
                            {
                                "ParameterName": "binlog_format",
                                "ParameterValue": "ROW",
                                "ApplyMethod": "immediate",
                            }
                        ],
                    },
                    region,
                ),
            ),
            sql=("CALL mysql.rds_set_configuration('binlog retention hours', 24);",),
            console=f"RDS console > Parameter groups > {group} > Edit > binlog_format = ROW",
            notes=(
                "a default.* parameter group cannot be changed: create a custom one and attach "
                "it to the replica first",
                "run the CALL on the replica, as the master user",
            ),
        ),
    ]


def _postgres(
    ctx: Context, task: str, step: str, replica: str, writer: str, group: str, tagged: bool
) -> Request:
    region, label = ctx.source.region, " (PostgreSQL source)" if tagged else ""
    logical = [
        {
            "ParameterName": "rds.logical_replication",
            "ParameterValue": "1",
            "ApplyMethod": "pending-reboot",
        }
    ]
    return Request(
        key=f"replica-logical:{task}",
        phase="before",
        title=f"rds.logical_replication = 1 on the writer and the replica{label}",
        arn=ctx.arn("rds", f"pg:{group}"),
        reason=(
            "RDS for PostgreSQL decodes changes on a replica from PostgreSQL 16 only with the "
            "static rds.logical_replication = 1 on the writer and the replica (a reboot each)"
        ),
        verify=ctx.verify(REPLICA, step),
        when_step=step,
        commands=(
            Command(
                "rds",
                "ModifyDBParameterGroup",
                {"DBParameterGroupName": "<writer-parameter-group>", "Parameters": logical},
                region,
            ),
            Command(
                "rds",
                "ModifyDBParameterGroup",
                {"DBParameterGroupName": group, "Parameters": logical},
                region,
            ),
            Command("rds", "RebootDBInstance", {"DBInstanceIdentifier": writer}, region),
            Command("rds", "RebootDBInstance", {"DBInstanceIdentifier": replica}, region),
        ),
        console=f"RDS console > Parameter groups > {group} > Edit > rds.logical_replication = 1",
        notes=(f"rebooting {writer} restarts production: schedule it",),
    )


def _aurora(ctx: Context, task: str, step: str, evidence: dict[str, Any], family: str) -> Request:
    cluster = str(evidence.get("db") or "<aurora-cluster-id>")
    name, value = (
        ("binlog_format", "ROW") if family == "aurora-mysql" else ("rds.logical_replication", "1")
    )
    return Request(
        key=f"aurora-cdc:{task}",
        phase="before",
        title=f"{name} = {value} in the Aurora cluster's parameter group",
        arn=ctx.arn("rds", "cluster-pg:<cluster-parameter-group>"),
        reason=(
            "DMS cannot capture changes from an Aurora replica: it reads the cluster's writer, "
            f"which needs {name} = {value} (a static parameter: reboot the writer)"
        ),
        verify=ctx.verify(REPLICA, step),
        when_step=step,
        commands=(
            Command(
                "rds",
                "ModifyDBClusterParameterGroup",
                {
                    "DBClusterParameterGroupName": "<cluster-parameter-group>",
                    "Parameters": [
                        {
                            "ParameterName": name,
                            "ParameterValue": value,
                            "ApplyMethod": "pending-reboot",
                        }
                    ],
                },
                ctx.source.region,
            ),
        ),
        console=f"RDS console > Databases > {cluster} > Configuration > DB cluster parameter group",
    )


def _sql(verb: str, family: str) -> tuple[str, ...]:
    """REVOKE or GRANT of the application user's writes, for the engine (both if unknown)."""
    to = "FROM" if verb == "REVOKE" else "TO"
    mysql = [f"{verb} INSERT, UPDATE, DELETE ON {SCHEMA}.* {to} '{APP_USER}'@'%';"]
    postgres = [f"{verb} INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} {to} {APP_USER};"]
    if verb == "REVOKE":
        mysql = [
            f"SHOW GRANTS FOR '{APP_USER}'@'%';  -- keep the output: the rollback grants it back",
            *mysql,
            "-- a database-level REVOKE reaches an open session only at its next USE:",
            f"SELECT id FROM information_schema.processlist WHERE user = '{APP_USER}';",
            "CALL mysql.rds_kill(<id>);  -- for each id listed",
        ]
    if family == "mysql":
        return tuple(mysql)
    if family in ("postgres", "aurora-postgresql"):
        return tuple(postgres)
    if family == "aurora-mysql":
        return tuple(mysql)
    return ("-- MySQL / MariaDB:", *mysql, "-- PostgreSQL:", *postgres)


def writes_requests(ctx: Context) -> list[Request]:
    """Revoke writes at the cutover; grant them back after a rollback."""
    refs = ctx.refs(WRITES)
    if not refs:
        return []
    check_step = refs[0][0].id
    read_only = next(
        (param(p, "read_only_step") for _s, p in refs if param(p, "read_only_step")), None
    )
    arn, family = writer_arn(ctx)
    revoke = Request(
        key="revoke-writes",
        phase="cutover",
        title="Revoke writes from the application user on the source database",
        arn=arn,
        reason=(
            "the source becomes read-only so that CDC can drain and nothing is written on the "
            "side DNS is about to leave (a grant change by the DBA: no AWS call)"
        ),
        verify=ctx.verify(WRITES, check_step),
        when_step=read_only,
        sql=_sql("REVOKE", family),
        console="a SQL session on the writer, as a user with GRANT OPTION",
        notes=("replace <app_user> and <schema> with the application's user and schema",),
    )
    step = ctx.reenable_step
    check = step.checks[0].id if step is not None and step.checks else WRITES
    expect = (
        "pass"
        if check != WRITES
        else "fail: source rows flow through DMS again once the application writes"
    )
    grant = Request(
        key="grant-writes",
        phase="rollback",
        title="Re-enable writes for the application user on the source database",
        arn=arn,
        reason=(
            "after a rollback DNS sends users back to the source, which is still read-only "
            "until its owner grants the writes back: do this first"
        ),
        # Verified where the check runs: a manual re-enable step has no check of its own.
        verify=ctx.verify(check, step.id if step and step.checks else check_step, expect),
        when_step=step.id if step is not None else None,
        sql=_sql("GRANT", family),
        console="a SQL session on the writer, as a user with GRANT OPTION",
        notes=("grant exactly what SHOW GRANTS listed before the revoke, no more",),
    )
    return [revoke, grant]
