"""The DMS checks and source.writes_stopped against real moto resources in two accounts.

DMS (task, instance, endpoints), CloudWatch and NAT live in the target; the
RDS databases and their security groups in the source, read through the
guarded, assume-role session exactly as in a cutover. Where moto falls short
(no DescribeTableStatistics; ARNs that end in the task's name instead of a
resource id; a fixed FullLoadProgressPercent), a hook on the check's own client
supplies what AWS would answer, and each place says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from pydantic import ValidationError

from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.registry import CheckRegistry
from runbook.state import RunState, StepState
from tests.helpers import run_check

INSTANCE = "cutover-ri"
TASK = "cutover-task"
DMS_IP = "54.0.0.1"  # moto's public IP for every publicly accessible replication instance
DO_NOTHING = {"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}}
MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "1",
                "rule-action": "include",
                "object-locator": {"schema-name": "%", "table-name": "%"},
            }
        ]
    }
)


# --- fixtures --------------------------------------------------------------------------


Clients = Callable[[str, str], Any]


@pytest.fixture
def clients(check_context: CheckContext, admin: Any) -> Clients:
    """`clients("source", "rds")`: unguarded clients for building resources, one of each."""
    made: dict[tuple[str, str], Any] = {}
    sessions: dict[str, Any] = {}

    def get(account: str, service: str) -> Any:
        if (account, service) not in made:
            if account not in sessions:
                sessions[account] = admin(account)
            made[(account, service)] = sessions[account].client(service)
        return made[(account, service)]

    return get


@pytest.fixture
def now(check_context: CheckContext) -> datetime:
    """A fixed 'now' on a minute boundary, given to the checks through ctx.now."""
    fixed = datetime.now(UTC).replace(second=0, microsecond=0)
    check_context.now = lambda: fixed
    return fixed


def run(ctx: CheckContext, check_id: str, params: dict[str, Any]) -> CheckResult:
    result: CheckResult = run_check(ctx, check_id, params)
    return result


@dataclass
class SourceDb:
    vpc_id: str
    sg_id: str
    writer_host: str
    replica_host: str


@pytest.fixture
def source_db(clients: Clients) -> SourceDb:
    """The live MySQL writer and its read replica, in the source account."""
    ec2, rds = clients("source", "ec2"), clients("source", "rds")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="prod-db", Description="db", VpcId=vpc)["GroupId"]
    writer = rds.create_db_instance(
        DBInstanceIdentifier="prod-db",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        Port=3306,
        VpcSecurityGroupIds=[sg],
    )["DBInstance"]
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier="prod-db-replica", SourceDBInstanceIdentifier="prod-db"
    )["DBInstance"]
    return SourceDb(
        vpc_id=vpc,
        sg_id=sg,
        writer_host=writer["Endpoint"]["Address"],
        replica_host=replica["Endpoint"]["Address"],
    )


def make_task(
    clients: Clients,
    server_name: str,
    *,
    settings: dict[str, Any] | None = None,
    migration_type: str = "full-load-and-cdc",
    start: bool = True,
    task_id: str = TASK,
    instance_id: str = INSTANCE,
) -> str:
    """A replication instance, endpoints and task in the target; returns the task ARN."""
    dms = clients("target", "dms")
    existing = dms.describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": [instance_id]}]
    )["ReplicationInstances"]
    if existing:
        instance_arn = existing[0]["ReplicationInstanceArn"]
    else:
        instance_arn = dms.create_replication_instance(
            ReplicationInstanceIdentifier=instance_id,
            ReplicationInstanceClass="dms.t3.medium",
            PubliclyAccessible=True,
        )["ReplicationInstance"]["ReplicationInstanceArn"]

    def endpoint(kind: str, host: str) -> str:
        arn: str = dms.create_endpoint(
            EndpointIdentifier=f"{task_id}-{kind}",
            EndpointType=kind,
            EngineName="mysql",
            ServerName=host,
            Port=3306,
            DatabaseName="app",
            Username="dms",
            Password="not-a-secret-2",
        )["Endpoint"]["EndpointArn"]
        return arn

    task_arn: str = dms.create_replication_task(
        ReplicationTaskIdentifier=task_id,
        SourceEndpointArn=endpoint("source", server_name),
        TargetEndpointArn=endpoint("target", "app.target.internal"),
        ReplicationInstanceArn=instance_arn,
        MigrationType=migration_type,
        TableMappings=MAPPINGS,
        ReplicationTaskSettings=json.dumps(DO_NOTHING if settings is None else settings),
    )["ReplicationTask"]["ReplicationTaskArn"]
    if start:
        dms.start_replication_task(
            ReplicationTaskArn=task_arn, StartReplicationTaskType="start-replication"
        )
    return task_arn


def answer_table_statistics(ctx: CheckContext, tables: list[dict[str, Any]]) -> None:
    """moto has no DescribeTableStatistics: answer it on the check's own client.

    A `before-send` hook cannot: moto's own before-send handler still runs after it
    and raises NotImplementedError. So answer on `before-call`, as botocore's Stubber
    does, for this one operation, with a response checked against its output shape.
    """
    client = ctx.client("target", "dms")
    output = client.meta.service_model.operation_model("DescribeTableStatistics").output_shape

    def answer(params: dict[str, Any], **_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        arn = json.loads(params["body"])["ReplicationTaskArn"]
        parsed: dict[str, Any] = {"ReplicationTaskArn": arn, "TableStatistics": tables}
        validate_parameters(parsed, output)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": {}}
        return AWSResponse(None, 200, {}, None), parsed

    client.meta.events.register(
        "before-call.database-migration-service.DescribeTableStatistics", answer
    )


def table(name: str, state: str = "Table completed") -> dict[str, Any]:
    return {"SchemaName": "app", "TableName": name, "TableState": state, "FullLoadRows": 10}


def patch_task_response(ctx: CheckContext, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit DescribeReplicationTasks' parsed answer where moto cannot produce a state."""

    def edit(parsed: dict[str, Any], **_kwargs: Any) -> None:
        for task in parsed.get("ReplicationTasks", []):
            change(task)

    ctx.client("target", "dms").meta.events.register(
        "after-call.database-migration-service.DescribeReplicationTasks", edit
    )


# --- dms.task --------------------------------------------------------------------------


def test_task_running_cdc_do_nothing_without_table_errors_passes(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example")
    answer_table_statistics(check_context, [table("users"), table("orders")])
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["target_table_prep_mode"] == "DO_NOTHING"
    assert result.evidence["errored_tables"] == []


@pytest.mark.parametrize("mode", ["TRUNCATE_BEFORE_LOAD", "DROP_AND_CREATE"])
def test_task_with_destructive_prep_mode_fails_naming_it(
    check_context: CheckContext, clients: Clients, mode: str
) -> None:
    make_task(
        clients, "replica.example", settings={"FullLoadSettings": {"TargetTablePrepMode": mode}}
    )
    answer_table_statistics(check_context, [table("users")])
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert f"TargetTablePrepMode {mode}, not DO_NOTHING" in result.summary


def test_task_without_prep_mode_fails_as_dms_default(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example", settings={"Logging": {"EnableLogging": True}})
    answer_table_statistics(check_context, [])
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "DROP_AND_CREATE" in result.summary


def test_full_load_only_task_fails(check_context: CheckContext, clients: Clients) -> None:
    make_task(clients, "replica.example", migration_type="full-load")
    answer_table_statistics(check_context, [])
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "MigrationType full-load, not full-load-and-cdc" in result.summary


def test_stopped_task_fails_and_says_resume_never_restart(
    check_context: CheckContext, clients: Clients
) -> None:
    arn = make_task(clients, "replica.example")
    clients("target", "dms").stop_replication_task(ReplicationTaskArn=arn)
    answer_table_statistics(check_context, [])
    result = run(check_context, "dms.task", {"task_id": arn})  # by ARN this time
    assert result.status == Status.FAIL, result
    assert "status stopped, not running" in result.summary
    hint = next(d for d in result.details if "resume-processing" in d)
    assert arn in hint and "never reload-target" in hint
    cls = CheckRegistry.discover().get("dms.task")
    assert "resume-processing" in cls.meta.remediation
    assert "Never restart it from scratch" in cls.meta.remediation


def test_errored_tables_fail_naming_them(check_context: CheckContext, clients: Clients) -> None:
    make_task(clients, "replica.example")
    answer_table_statistics(
        check_context, [table("users"), table("orders", "Table error"), table("audit")]
    )
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "1 table(s) in error: app.orders" in result.summary
    assert result.evidence["errored_tables"] == ["app.orders"]


def test_unfinished_full_load_fails(check_context: CheckContext, clients: Clients) -> None:
    make_task(clients, "replica.example")
    answer_table_statistics(check_context, [])
    # moto always reports 100%; real DMS reports progress while loading.
    patch_task_response(
        check_context, lambda t: t["ReplicationTaskStats"].update(FullLoadProgressPercent=87)
    )
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "full load 87% done, not 100%" in result.summary


def test_missing_task_fails_clearly(check_context: CheckContext) -> None:
    result = run(check_context, "dms.task", {"task_id": "no-such-task"})
    assert result.status == Status.FAIL, result
    assert result.summary == "DMS replication task no-such-task not found in the target account"


def test_emulator_warns_instead_of_faking_table_statistics(
    check_context: CheckContext, clients: Clients
) -> None:
    make_task(clients, "replica.example")
    check_context.emulated = True  # no hook: a call to DescribeTableStatistics would raise
    result = run(check_context, "dms.task", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert "table errors not checked" in result.summary


@pytest.mark.parametrize(
    "params",
    [
        {"task_id": "1-starts-with-digit"},
        {"task_id": "arn:aws:rds:us-east-1:123456789012:db:x"},
        {"task_id": TASK, "account": "dns"},
        {"task_id": TASK, "task": TASK},
    ],
)
def test_task_params_are_validated(params: dict[str, Any]) -> None:
    cls = CheckRegistry.discover().get("dms.task")
    with pytest.raises(ValidationError):
        cls.params_model.model_validate(params)


# --- dms.source_replica ----------------------------------------------------------------


def test_endpoint_on_read_replica_passes(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
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
    make_task(clients, aurora["Endpoint"])
    result = run(check_context, "dms.source_replica", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "writer endpoint (writer instance prod-aurora-1)" in result.summary
    assert any(aurora["ReaderEndpoint"] in d for d in result.details)


def test_cluster_reader_endpoint_passes(
    check_context: CheckContext, clients: Clients, aurora: dict[str, Any]
) -> None:
    make_task(clients, aurora["ReaderEndpoint"])
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


# --- dms.network_path ------------------------------------------------------------------


def allow(clients: Clients, sg: str, cidr: str, low: int = 3306, high: int = 3306) -> None:
    clients("source", "ec2").authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": low, "ToPort": high, "IpRanges": [{"CidrIp": cidr}]}
        ],
    )


def test_exact_rule_for_dms_ip_passes(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    allow(clients, source_db.sg_id, "10.0.0.0/16")  # the app's own subnet: not DMS's business
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["admitted"] == {DMS_IP: [source_db.sg_id]}
    assert result.evidence["port"] == 3306


def test_missing_rule_fails_naming_the_ip(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    allow(clients, source_db.sg_id, "54.0.0.2/32")
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert f"no /32 rule on tcp 3306 for replication instance IP(s) {DMS_IP}" in result.summary


@pytest.mark.parametrize(
    ("cidr", "low", "high", "named"),
    [
        ("0.0.0.0/0", 3306, 3306, "tcp 3306 open to 0.0.0.0/0"),
        ("54.0.0.0/24", 3306, 3306, f"admits {DMS_IP} through 54.0.0.0/24, wider than /32"),
        (f"{DMS_IP}/32", 0, 65535, f"admits {DMS_IP} on tcp 0-65535, not only tcp 3306"),
    ],
)
def test_too_wide_rule_fails_even_beside_an_exact_one(
    check_context: CheckContext,
    clients: Clients,
    source_db: SourceDb,
    cidr: str,
    low: int,
    high: int,
    named: str,
) -> None:
    make_task(clients, source_db.replica_host)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    # A second group on the same DB, as the seed's Lambda would add (all TCP ports).
    ec2 = clients("source", "ec2")
    wide_sg = ec2.create_security_group(
        GroupName="wide", Description="wide", VpcId=source_db.vpc_id
    )["GroupId"]
    clients("source", "rds").modify_db_instance(
        DBInstanceIdentifier="prod-db-replica", VpcSecurityGroupIds=[source_db.sg_id, wide_sg]
    )
    allow(clients, wide_sg, cidr, low, high)
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert f"{wide_sg}: {named}" in result.summary
    assert result.evidence["missing"] == []


@pytest.fixture
def nat_ip(clients: Clients) -> tuple[str, str, str]:
    """A NAT gateway in the target's DMS VPC: (vpc id, gateway id, public IP)."""
    ec2 = clients("target", "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")
    gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation["AllocationId"])
    return vpc, gateway["NatGateway"]["NatGatewayId"], allocation["PublicIp"]


def test_nat_egress_needs_the_nat_ip_not_the_instance_ip(
    check_context: CheckContext,
    clients: Clients,
    source_db: SourceDb,
    nat_ip: tuple[str, str, str],
) -> None:
    vpc, gateway, ip = nat_ip
    make_task(clients, source_db.replica_host)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    missing = run(check_context, "dms.network_path", {"task_id": TASK, "nat_vpc_id": vpc})
    assert missing.status == Status.FAIL, missing
    assert f"for NAT gateway IP(s) {ip}" in missing.summary

    allow(clients, source_db.sg_id, f"{ip}/32")
    by_id = run(check_context, "dms.network_path", {"task_id": TASK, "nat_gateway_ids": [gateway]})
    assert by_id.status == Status.PASS, by_id
    assert by_id.evidence["egress_ips"] == [ip]


def test_unknown_nat_gateway_fails(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    result = run(
        check_context,
        "dms.network_path",
        {"task_id": TASK, "nat_gateway_ids": ["nat-0123456789abcdef0"]},
    )
    assert result.status == Status.FAIL, result
    assert "NAT gateway nat-0123456789abcdef0 not found" in result.summary


# --- CloudWatch: dms.cdc_lag and source.writes_stopped ----------------------------------


def put(
    clients: Clients,
    now: datetime,
    metric: str,
    values: list[float],
    *,
    task: str = TASK,
    instance: str = INSTANCE,
    end_minutes_ago: int = 1,
) -> None:
    """One sample a minute, oldest first, the newest `end_minutes_ago` before now."""
    dims = [
        {"Name": "ReplicationInstanceIdentifier", "Value": instance},
        {"Name": "ReplicationTaskIdentifier", "Value": task},
    ]
    count = len(values)
    clients("target", "cloudwatch").put_metric_data(
        Namespace="AWS/DMS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": dims,
                "Timestamp": now - timedelta(minutes=end_minutes_ago + count - 1 - i),
                "Value": value,
                "Unit": "Seconds" if metric.startswith("CDCLatency") else "Count",
            }
            for i, value in enumerate(values)
        ],
    )


def test_cdc_lag_under_threshold_passes_with_series(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [4, 6, 3, 2, 5])
    put(clients, now, "CDCLatencyTarget", [8, 12, 9, 7, 6])
    # Another task's lag on the same instance must not count.
    put(clients, now, "CDCLatencyTarget", [900, 900], task="other-task")
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["max_seconds"] == 12
    series = result.evidence["series"]
    assert [value for _, value in series] == [8, 12, 9, 7, 6]
    assert series[-1][0] == (now - timedelta(minutes=1)).isoformat()
    json.dumps(result.evidence)  # JSON all the way down


def test_cdc_lag_above_threshold_fails_naming_metric(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [3, 4, 5])
    put(clients, now, "CDCLatencyTarget", [20, 75, 40])
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "CDCLatencyTarget reached 75 s" in result.summary
    assert "(threshold 60 s)" in result.summary


def test_cdc_lag_without_datapoints_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [1, 1], task="other-task")
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "no CDCLatencySource or CDCLatencyTarget datapoints" in result.summary
    assert result.evidence["series"] == []


def test_cdc_lag_with_one_metric_silent_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [1, 2, 1])
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "no CDCLatencyTarget datapoints" in result.summary


def test_cdc_lag_with_only_stale_samples_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCLatencySource", [1, 1], end_minutes_ago=12)
    put(clients, now, "CDCLatencyTarget", [1, 1], end_minutes_ago=12)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "12 min old" in result.summary


def test_cdc_lag_finds_metrics_under_the_task_resource_id(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    resource = "Q2JVYJ6MQVFUXLCQGHAG3V7SPM"

    def as_aws_returns_it(task: dict[str, Any]) -> None:
        # Real task ARNs end in a resource id, not the name; moto's end in the name.
        task["ReplicationTaskArn"] = task["ReplicationTaskArn"].rsplit(":", 1)[0] + f":{resource}"

    patch_task_response(check_context, as_aws_returns_it)
    put(clients, now, "CDCLatencySource", [2, 3], task=resource)
    put(clients, now, "CDCLatencyTarget", [4, 5], task=resource)
    result = run(check_context, "dms.cdc_lag", {"task_id": TASK})
    assert result.status == Status.PASS, result
    found = result.evidence["dimensions"]["CDCLatencyTarget"]
    assert found == [
        {"ReplicationInstanceIdentifier": INSTANCE, "ReplicationTaskIdentifier": resource}
    ]


def drain(clients: Clients, now: datetime, incoming: list[float], latency: list[float]) -> None:
    put(clients, now, "CDCIncomingChanges", incoming)
    put(clients, now, "CDCLatencySource", [v / 2 for v in latency])
    put(clients, now, "CDCLatencyTarget", latency)


def test_writes_stopped_after_three_drained_samples_passes(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [120, 40, 0, 0, 0], [50, 35, 12, 4, 1])
    result = run(check_context, "source.writes_stopped", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert "for the last 3 samples" in result.summary
    assert [v for _, v in result.evidence["series"]] == [50, 35, 12, 4, 1]
    assert [v for _, v in result.evidence["incoming_series"]] == [120, 40, 0, 0, 0]


def test_writes_still_arriving_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [0, 0, 0, 0, 3], [1, 1, 1, 1, 1])
    result = run(check_context, "source.writes_stopped", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "CDCIncomingChanges 3 at" in result.summary


def test_latency_above_drain_threshold_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [0, 0, 0, 0, 0], [1, 1, 1, 45, 2])
    result = run(check_context, "source.writes_stopped", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "CDC latency 45 s at" in result.summary


def test_too_few_samples_fail(check_context: CheckContext, clients: Clients, now: datetime) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [0, 0], [1, 1])
    result = run(
        check_context, "source.writes_stopped", {"task_id": TASK, "consecutive_samples": 3}
    )
    assert result.status == Status.FAIL, result
    assert "only 2 of 3 samples" in result.summary


def test_drained_but_silent_for_too_long_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    put(clients, now, "CDCIncomingChanges", [0, 0, 0], end_minutes_ago=12)
    put(clients, now, "CDCLatencyTarget", [1, 1, 1], end_minutes_ago=12)
    result = run(check_context, "source.writes_stopped", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "newest sample is 12 min old" in result.summary


def test_writes_stopped_without_datapoints_fails(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    result = run(check_context, "source.writes_stopped", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "no CDCIncomingChanges datapoints" in result.summary


def test_only_samples_after_the_read_only_step_count(
    check_context: CheckContext, clients: Clients, now: datetime
) -> None:
    make_task(clients, "replica.example")
    drain(clients, now, [0, 0, 0, 0, 0], [1, 1, 1, 1, 1])
    params = {"task_id": TASK, "read_only_step": "source-read-only"}

    check_context.state = RunState()
    not_yet = run(check_context, "source.writes_stopped", params)
    assert not_yet.status == Status.FAIL, not_yet
    assert "step source-read-only is not done" in not_yet.summary

    # Confirmed 2.5 minutes ago: only the samples starting at -2 and -1 min are after it.
    check_context.state.steps["source-read-only"] = StepState(
        status="done", finished_at=now - timedelta(minutes=2, seconds=30)
    )
    recent = run(check_context, "source.writes_stopped", params)
    assert recent.status == Status.FAIL, recent
    assert "only 2 of 3 samples since" in recent.summary

    check_context.state.steps["source-read-only"] = StepState(
        status="done", finished_at=now - timedelta(minutes=3)
    )
    drained = run(check_context, "source.writes_stopped", params)
    assert drained.status == Status.PASS, drained


def test_writes_stopped_params_must_fit_the_window() -> None:
    cls = CheckRegistry.discover().get("source.writes_stopped")
    with pytest.raises(ValidationError, match="does not fit in the window"):
        cls.params_model.model_validate(
            {"task_id": TASK, "consecutive_samples": 20, "window_minutes": 10}
        )
