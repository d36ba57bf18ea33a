"""The demo world: a two-account cutover seeded into the embedded emulator, and its runbook.

`seed()` builds what a real cutover finds half-way through its preparation:
source and target VPCs that overlap (10.0.0.0/16, bridged by PrivateLink), a
MySQL writer and its read replica in the source, a DMS full-load-and-cdc task
in the target still catching up, a Route 53 zone whose app record has TTL 300,
Cognito pools with part of the users already moved, replicated S3 buckets,
CloudFormation stacks, and the leftovers that make a cutover fail in life (a
target Lambda that still names the source account, an alarm that notifies a
source topic). `write_runbook()` writes the bundled playbook with this world's
IDs; `LagFeeder` keeps DMS's CloudWatch metrics moving; `FIXES` and `HINTS`
tell the app how each failing check is cleared in the demo.

Accounts: the target is moto's default account (123456789012), reached with
the demo's own keys; the source (111111111111) is reached by assuming a role
in it, as the tool itself does: moto takes the account from the role ARN.
Every client comes from `runbook.aws.SessionFactory`, the project's only
session factory, under names other than `source` (seeding writes to it).

Nothing here talks to anything but 127.0.0.1: the emulator and `DemoSite`,
the loopback web server the synthetic checks ask.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any, Literal

from runbook.aws.session import SessionFactory
from runbook.cognito.trigger import handler as migration_lambda
from runbook.demo.emulator import DEFAULT_REGION, LOOPBACK, Emulator
from runbook.model import Account

TARGET_ACCOUNT = "123456789012"  # moto's default: the demo's own keys land here
SOURCE_ACCOUNT = "111111111111"
REGION = DEFAULT_REGION
EXTERNAL_ID = "runbook-demo"
SOURCE_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/runbook-read-only"
# Seeding writes to the source, so it goes through a role that is not the
# runbook's read-only one (moto does not enforce either role's policy).
SEED_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/demo-seed-admin"
COGNITO_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/cognito-migration-read"
S3_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/s3-replication"

# Documentation address blocks (RFC 5737): never routed, nothing to reach.
SOURCE_IP = "198.51.100.10"
TARGET_IP = "203.0.113.10"

ZONE_NAME = "example.com"
RECORD_NAME = "app.example.com"
RECORD_TTL = 300
DB_PORT = 3306
TASK_ID = "acme-prod-full-load-cdc"
DMS_INSTANCE_ID = "acme-prod-dms"
READ_ONLY_STEP = "source-read-only"
RUNBOOK_FILE = "runbook.toml"
STATE_DIR = ".runbook"
DEMO_MARKER = "# The demo runbook:"  # first line of every runbook the demo writes

AccountName = Literal["source", "target"]

_NAMESPACE = "AWS/DMS"
_LATENCY_SOURCE, _LATENCY_TARGET, _INCOMING = (
    "CDCLatencySource",
    "CDCLatencyTarget",
    "CDCIncomingChanges",
)


# --- CDC lag over time ---------------------------------------------------------------


@dataclass(frozen=True)
class LagProfile:
    """How DMS's CDC latency moves in the demo, in demo seconds since the world was seeded.

    Before the demo starts (the seeded history) the task is far behind and
    catching up; from the start, the latency halves every `halflife_s` towards
    `floor_s`, so `dms.cdc_lag` fails at first and passes once the high samples
    leave its window (`window_minutes`, the demo runbook's setting). Changes
    keep arriving until the source is read-only, then drop to zero.
    """

    history_minutes: int = 15
    history_peak_s: float = 480.0
    start_s: float = 150.0
    floor_s: float = 4.0
    halflife_s: float = 30.0
    history_step_s: float = 20.0
    incoming_per_sample: float = 850.0
    window_minutes: int = 3

    def latency(self, elapsed_s: float) -> tuple[float, float]:
        """(CDCLatencySource, CDCLatencyTarget) at a moment of the demo."""
        if elapsed_s < 0:
            # Log-linear from the peak down to the value at the start.
            span = self.history_minutes * 60.0
            fraction = max(0.0, min(1.0, (elapsed_s + span) / span))
            base = self.history_peak_s * (self.start_s / self.history_peak_s) ** fraction
        else:
            base = self.floor_s + (self.start_s - self.floor_s) * 0.5 ** (
                elapsed_s / self.halflife_s
            )
        wobble = 1.0 + 0.04 * math.sin(elapsed_s / 11.0)
        source = round(base * wobble, 1)
        # The target applies what the source side read: a little further behind.
        return source, round(source * 1.1 + 0.5, 1)

    def incoming(self, elapsed_s: float, read_only: bool) -> float:
        if read_only:
            return 0.0
        return round(self.incoming_per_sample * (1.0 + 0.15 * math.sin(elapsed_s / 23.0)))


# --- the world -------------------------------------------------------------------------


@dataclass
class DemoWorld:
    """Every ID the demo runbook names, the demo's clock, and clients to change it."""

    endpoint_url: str
    region: str = REGION
    source_account: str = SOURCE_ACCOUNT
    target_account: str = TARGET_ACCOUNT
    source_role_arn: str = SOURCE_ROLE_ARN
    external_id: str = EXTERNAL_ID
    # Networks: both 10.0.0.0/16; PrivateLink from the target to the source.
    source_vpc_id: str = ""
    target_vpc_id: str = ""
    endpoint_service_name: str = ""
    endpoint_id: str = ""
    # The source database: a writer and the read replica DMS reads.
    db_writer_id: str = "acme-prod-db"
    db_replica_id: str = "acme-prod-db-replica"
    db_replica_host: str = ""
    db_port: int = DB_PORT
    db_security_group_id: str = ""
    target_db_id: str = "acme-prod-db-v2"
    # DMS, in the target.
    dms_instance_id: str = DMS_INSTANCE_ID
    dms_instance_arn: str = ""
    dms_public_ip: str = ""
    task_id: str = TASK_ID
    task_arn: str = ""
    # DNS, in the target.
    zone_id: str = ""
    zone_name: str = ZONE_NAME
    record_name: str = RECORD_NAME
    record_ttl: int = RECORD_TTL
    source_ip: str = SOURCE_IP
    target_ip: str = TARGET_IP
    # Cognito.
    source_pool_id: str = ""
    source_client_id: str = ""
    target_pool_id: str = ""
    target_client_id: str = ""
    trigger_function: str = "acme-user-migration"
    trigger_function_arn: str = ""
    cognito_role_arn: str = COGNITO_ROLE_ARN
    users_total: int = 0
    users_migrated: int = 0
    # S3: (source bucket, target bucket).
    bucket_pairs: list[tuple[str, str]] = field(
        default_factory=lambda: [
            ("acme-prod-uploads", "acme-prod-uploads-v2"),
            ("acme-prod-exports", "acme-prod-exports-v2"),
        ]
    )
    # CloudFormation.
    source_stacks: list[str] = field(default_factory=lambda: ["acme-app", "acme-data"])
    target_stacks: list[str] = field(
        default_factory=lambda: ["acme-app", "acme-data", "acme-network"]
    )
    # What the target still carries from the source.
    stale_function: str = "acme-orders-worker"
    alarm_name: str = "acme-api-5xx"
    source_topic_arn: str = ""
    target_topic_arn: str = ""
    # The demo's time and the state the lag feeder follows.
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    time_scale: float = 1.0
    lag: LagProfile = field(default_factory=LagProfile)
    site_url: str | None = None
    state_file: Path | None = None
    archived_state: Path | None = None
    source_read_only: threading.Event = field(default_factory=threading.Event, repr=False)
    _started_monotonic: float = field(default_factory=time.monotonic, repr=False)
    _sessions: SessionFactory | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- time ---------------------------------------------------------------------

    def start_clock(self) -> None:
        self.started_at = datetime.now(UTC)
        self._started_monotonic = time.monotonic()

    def elapsed_s(self) -> float:
        """Demo seconds since the world was seeded (`time_scale` times the real ones)."""
        return (time.monotonic() - self._started_monotonic) * self.time_scale

    def clock(self) -> datetime:
        """The demo's now: the wall clock when `time_scale` is 1, faster in tests."""
        return self.started_at + timedelta(seconds=self.elapsed_s())

    # --- accounts and clients -----------------------------------------------------

    def account(self, name: AccountName) -> Account:
        if name == "source":
            return Account(
                account_id=self.source_account,
                region=self.region,
                role_arn=SEED_ROLE_ARN,
                external_id=self.external_id,
                session_name="runbook-demo-seed",
            )
        return Account(account_id=self.target_account, region=self.region)

    def client(self, account: AccountName, service: str) -> Any:
        """An unguarded client for changing the emulated world (seeding, fixes, the feeder)."""
        with self._lock:
            if self._sessions is None:
                # Named apart from "source" on purpose: the demo seeds and fixes the
                # emulated source, so these sessions must not carry the read-only guard.
                self._sessions = SessionFactory(
                    {f"emulated-{name}": self.account(name) for name in ("source", "target")}
                )
        # Explicit, not only from AWS_ENDPOINT_URL: these clients outlive any env.
        return self._sessions.client(f"emulated-{account}", service, endpoint_url=self.endpoint_url)

    # --- read-only source -----------------------------------------------------------

    def refresh_read_only(self) -> bool:
        """Is the source read-only: set by a fix, or the read-only step done in the run state?"""
        if self.source_read_only.is_set():
            return True
        if self.state_file is not None:
            try:
                state = json.loads(self.state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return False
            step = (state.get("steps") or {}).get(READ_ONLY_STEP) or {}
            if step.get("status") == "done":
                self.source_read_only.set()
                return True
        return False

    @property
    def dms_dimensions(self) -> list[dict[str, str]]:
        return [
            {"Name": "ReplicationInstanceIdentifier", "Value": self.dms_instance_id},
            {"Name": "ReplicationTaskIdentifier", "Value": self.task_id},
        ]


# --- seeding ---------------------------------------------------------------------------


def seed(
    emulator: Emulator,
    *,
    users: int = 300,
    migrated_fraction: float = 0.4,
    time_scale: float = 1.0,
    lag: LagProfile | None = None,
) -> DemoWorld:
    """Create the whole two-account world in the (running) emulator; a few seconds."""
    world = DemoWorld(
        endpoint_url=emulator.endpoint_url,
        region=emulator.region,
        time_scale=time_scale,
        lag=lag or LagProfile(),
    )
    # The assume-role call behind the source's credentials reads AWS_ENDPOINT_URL.
    with emulator.applied():
        _seed_iam(world)
        _seed_networks(world)
        _seed_databases(world)
        _seed_dms(world)
        _seed_dns(world)
        _seed_alarms(world)
        _seed_lambdas(world)
        _seed_cognito(world, users, migrated_fraction)
        _seed_buckets(world)
        _seed_stacks(world)
        world.start_clock()
        _seed_cdc_history(world)
    return world


def _assume_policy(principal: dict[str, Any], external_id: str | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _lambda_role_arn(world: DemoWorld) -> str:
    return f"arn:aws:iam::{world.target_account}:role/acme-lambda-exec"


def _seed_iam(world: DemoWorld) -> None:
    target = world.client("target", "iam")
    target.create_role(
        RoleName="acme-lambda-exec",
        AssumeRolePolicyDocument=_assume_policy({"Service": "lambda.amazonaws.com"}),
    )
    source = world.client("source", "iam")
    target_root = {"AWS": f"arn:aws:iam::{world.target_account}:root"}
    source.create_role(
        RoleName="runbook-read-only",
        AssumeRolePolicyDocument=_assume_policy(target_root, world.external_id),
        Description="Read-only access for the cutover runbook",
    )
    source.create_role(
        RoleName="cognito-migration-read",
        AssumeRolePolicyDocument=_assume_policy(
            {"AWS": _lambda_role_arn(world)}, world.external_id
        ),
        Description="AdminInitiateAuth/AdminGetUser on the source pool, for the migration Lambda",
    )
    source.create_role(
        RoleName="s3-replication",
        AssumeRolePolicyDocument=_assume_policy({"Service": "s3.amazonaws.com"}),
    )


def _vpc(ec2: Any, name: str, azs: list[str]) -> tuple[str, list[str]]:
    vpc_id: str = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Vpc"]["VpcId"]
    subnets = [
        str(
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
        )
        for i, az in enumerate(azs, start=1)
    ]
    return vpc_id, subnets


def _seed_networks(world: DemoWorld) -> None:
    azs = [f"{world.region}a", f"{world.region}b"]
    source_ec2 = world.client("source", "ec2")
    world.source_vpc_id, source_subnets = _vpc(source_ec2, "acme-prod", azs)
    world.db_security_group_id = source_ec2.create_security_group(
        GroupName="acme-prod-db",
        Description="MySQL for the app, and for DMS in the target account",
        VpcId=world.source_vpc_id,
    )["GroupId"]

    # PrivateLink: an endpoint service behind an NLB in the source, and an
    # interface endpoint to it in the target; no routes, so the overlap is moot.
    nlb = world.client("source", "elbv2").create_load_balancer(
        Name="acme-prod-db-nlb", Type="network", Scheme="internal", Subnets=source_subnets
    )["LoadBalancers"][0]["LoadBalancerArn"]
    service = source_ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=False
    )["ServiceConfiguration"]
    world.endpoint_service_name = service["ServiceName"]

    target_ec2 = world.client("target", "ec2")
    world.target_vpc_id, target_subnets = _vpc(target_ec2, "acme-prod-v2", azs)
    world.endpoint_id = target_ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=world.target_vpc_id,
        ServiceName=world.endpoint_service_name,
        SubnetIds=target_subnets,
    )["VpcEndpoint"]["VpcEndpointId"]


def _seed_databases(world: DemoWorld) -> None:
    rds = world.client("source", "rds")
    rds.create_db_instance(
        DBInstanceIdentifier=world.db_writer_id,
        Engine="mysql",
        DBInstanceClass="db.r6g.large",
        MasterUsername="admin",
        MasterUserPassword="demo-only-password-1",
        AllocatedStorage=100,
        Port=world.db_port,
        VpcSecurityGroupIds=[world.db_security_group_id],
        PubliclyAccessible=True,
    )
    replica = rds.create_db_instance_read_replica(
        DBInstanceIdentifier=world.db_replica_id,
        SourceDBInstanceIdentifier=world.db_writer_id,
        DBInstanceClass="db.r6g.large",
        VpcSecurityGroupIds=[world.db_security_group_id],
        PubliclyAccessible=True,
    )["DBInstance"]
    world.db_replica_host = replica["Endpoint"]["Address"]
    world.client("target", "rds").create_db_instance(
        DBInstanceIdentifier=world.target_db_id,
        Engine="mysql",
        DBInstanceClass="db.r6g.large",
        MasterUsername="admin",
        MasterUserPassword="demo-only-password-2",
        AllocatedStorage=100,
        Port=world.db_port,
    )


_TABLE_MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "all-app-tables",
                "rule-action": "include",
                "object-locator": {"schema-name": "app", "table-name": "%"},
            }
        ]
    }
)
_TASK_SETTINGS = json.dumps(
    {
        "TargetMetadata": {"SupportLobs": True, "LimitedSizeLobMode": True, "LobMaxSize": 32},
        "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"},
        "Logging": {"EnableLogging": True},
    }
)


def _seed_dms(world: DemoWorld) -> None:
    dms = world.client("target", "dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=world.dms_instance_id,
        ReplicationInstanceClass="dms.r5.large",
        PubliclyAccessible=True,  # reaches the source DB over its public address (seed 003)
    )["ReplicationInstance"]
    world.dms_instance_arn = instance["ReplicationInstanceArn"]
    public_ips = instance.get("ReplicationInstancePublicIpAddresses") or [
        instance.get("ReplicationInstancePublicIpAddress")
    ]
    world.dms_public_ip = str(public_ips[0])

    def endpoint(kind: str, host: str) -> str:
        arn: str = dms.create_endpoint(
            EndpointIdentifier=f"{world.task_id}-{kind}",
            EndpointType=kind,
            EngineName="mysql",
            ServerName=host,
            Port=world.db_port,
            DatabaseName="app",
            Username="dms",
            Password="demo-only-password-3",
        )["Endpoint"]["EndpointArn"]
        return arn

    target_host = world.client("target", "rds").describe_db_instances(
        DBInstanceIdentifier=world.target_db_id
    )["DBInstances"][0]["Endpoint"]["Address"]
    world.task_arn = dms.create_replication_task(
        ReplicationTaskIdentifier=world.task_id,
        SourceEndpointArn=endpoint("source", world.db_replica_host),
        TargetEndpointArn=endpoint("target", target_host),
        ReplicationInstanceArn=world.dms_instance_arn,
        MigrationType="full-load-and-cdc",
        TableMappings=_TABLE_MAPPINGS,
        ReplicationTaskSettings=_TASK_SETTINGS,
    )["ReplicationTask"]["ReplicationTaskArn"]
    dms.start_replication_task(
        ReplicationTaskArn=world.task_arn, StartReplicationTaskType="start-replication"
    )
    # The source DB admits exactly the replication instance, on the DB port only.
    world.client("source", "ec2").authorize_security_group_ingress(
        GroupId=world.db_security_group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": world.db_port,
                "ToPort": world.db_port,
                "IpRanges": [
                    {"CidrIp": f"{world.dms_public_ip}/32", "Description": "DMS (target)"}
                ],
            }
        ],
    )


def _seed_dns(world: DemoWorld) -> None:
    route53 = world.client("target", "route53")
    zone = route53.create_hosted_zone(
        Name=world.zone_name, CallerReference=f"runbook-demo-{time.time_ns()}"
    )["HostedZone"]
    world.zone_id = str(zone["Id"]).rsplit("/", 1)[-1]

    def record(name: str, rtype: str, ttl: int, value: str) -> dict[str, Any]:
        return {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": name,
                "Type": rtype,
                "TTL": ttl,
                "ResourceRecords": [{"Value": value}],
            },
        }

    route53.change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Comment": "the source's records, before the cutover",
            "Changes": [
                record(world.record_name, "A", world.record_ttl, world.source_ip),
                record(f"www.{world.zone_name}", "CNAME", 3600, world.record_name),
                record(f"{world.zone_name}", "TXT", 3600, '"v=spf1 -all"'),
            ],
        },
    )


def _seed_alarms(world: DemoWorld) -> None:
    world.source_topic_arn = world.client("source", "sns").create_topic(Name="acme-alerts")[
        "TopicArn"
    ]
    world.target_topic_arn = world.client("target", "sns").create_topic(Name="acme-alerts")[
        "TopicArn"
    ]
    cloudwatch = world.client("target", "cloudwatch")
    common: dict[str, Any] = {
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    # Copied from the source with its template: still notifies the source's topic.
    cloudwatch.put_metric_alarm(
        AlarmName=world.alarm_name,
        AlarmDescription="API 5xx rate (copied from the source account)",
        MetricName="HTTPCode_Target_5XX_Count",
        Threshold=25,
        AlarmActions=[world.source_topic_arn],
        OKActions=[world.source_topic_arn],
        **common,
    )
    # Already re-pointed: notifies the target's topic.
    cloudwatch.put_metric_alarm(
        AlarmName="acme-api-latency",
        AlarmDescription="API p99 latency",
        MetricName="TargetResponseTime",
        Threshold=1.5,
        AlarmActions=[world.target_topic_arn],
        **{**common, "Statistic": "Maximum"},
    )


_WORKER_HANDLER = """\
def handler(event, context):
    return {"processed": len(event.get("Records", []))}
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _seed_lambdas(world: DemoWorld) -> None:
    lam = world.client("target", "lambda")
    # Deployed from a template copied from the source: its queue URL still names the source.
    lam.create_function(
        FunctionName=world.stale_function,
        Runtime="python3.12",
        Role=_lambda_role_arn(world),
        Handler="index.handler",
        Code={"ZipFile": _zip(_WORKER_HANDLER)},
        Timeout=30,
        Environment={
            "Variables": {
                "ORDERS_QUEUE_URL": (
                    f"https://sqs.{world.region}.amazonaws.com/{world.source_account}/acme-orders"
                ),
                "LOG_LEVEL": "INFO",
            }
        },
    )


def _seed_cognito(world: DemoWorld, users: int, migrated_fraction: float) -> None:
    schema = [
        {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
        {"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True},
    ]
    source = world.client("source", "cognito-idp")
    world.source_pool_id = source.create_user_pool(
        PoolName="acme-prod-users",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=schema,
    )["UserPool"]["Id"]
    world.source_client_id = source.create_user_pool_client(
        UserPoolId=world.source_pool_id,
        ClientName="user-migration",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]

    lam = world.client("target", "lambda")
    world.trigger_function_arn = lam.create_function(
        FunctionName=world.trigger_function,
        Runtime="python3.12",
        Role=_lambda_role_arn(world),
        # The real trigger, as `runbook lambda package` builds it (moto never runs it).
        Handler=migration_lambda.HANDLER,
        Code={"ZipFile": migration_lambda.zip_bytes()},
        Timeout=5,  # Cognito waits 5 s for the trigger, no longer
        Environment={
            "Variables": {
                "OLD_USER_POOL_ID": world.source_pool_id,
                "OLD_CLIENT_ID": world.source_client_id,
                "OLD_ROLE_ARN": world.cognito_role_arn,
                "OLD_EXTERNAL_ID": world.external_id,
                "OLD_USER_POOL_REGION": world.region,
            }
        },
    )["FunctionArn"]

    target = world.client("target", "cognito-idp")
    target_pool = target.create_user_pool(
        PoolName="acme-prod-users-v2",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=schema,
        LambdaConfig={"UserMigration": world.trigger_function_arn},
    )["UserPool"]
    world.target_pool_id = target_pool["Id"]
    lam.add_permission(
        FunctionName=world.trigger_function,
        StatementId="cognito-user-migration",
        Action="lambda:InvokeFunction",
        Principal="cognito-idp.amazonaws.com",
        SourceArn=target_pool["Arn"],
    )
    world.target_client_id = target.create_user_pool_client(
        UserPoolId=world.target_pool_id,
        ClientName="acme-web",
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
    )["UserPoolClient"]["ClientId"]

    people = [_person(i) for i in range(users)]
    migrated = people[: int(users * migrated_fraction)]
    # moto answers each call in a few milliseconds; a few threads keep seeding short.
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-seed") as pool:
        list(pool.map(lambda p: _create_user(source, world.source_pool_id, p), people))
        list(pool.map(lambda p: _create_user(target, world.target_pool_id, p), migrated))
    world.users_total = len(people)
    world.users_migrated = len(migrated)


def _person(index: int) -> dict[str, str]:
    person = {
        "email": f"user{index:04d}@example.com",
        "custom:tenant_id": f"tenant-{index % 17:02d}",
    }
    if index % 25 == 0:
        person["phone_number"] = f"+44770090{index:04d}"
    return person


def _create_user(client: Any, pool_id: str, person: dict[str, str]) -> None:
    attributes = [{"Name": k, "Value": v} for k, v in person.items()]
    attributes.append({"Name": "email_verified", "Value": "true"})
    client.admin_create_user(
        UserPoolId=pool_id,
        Username=person["email"],
        UserAttributes=attributes,
        MessageAction="SUPPRESS",
    )


def _seed_buckets(world: DemoWorld) -> None:
    source = world.client("source", "s3")
    target = world.client("target", "s3")
    location = {"LocationConstraint": world.region}
    for source_bucket, target_bucket in world.bucket_pairs:
        target.create_bucket(Bucket=target_bucket, CreateBucketConfiguration=location)
        target.put_bucket_versioning(
            Bucket=target_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        target.put_bucket_policy(
            Bucket=target_bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ReplicationFromSource",
                            "Effect": "Allow",
                            "Principal": {"AWS": S3_ROLE_ARN},
                            "Action": [
                                "s3:ReplicateObject",
                                "s3:ReplicateDelete",
                                "s3:ObjectOwnerOverrideToBucketOwner",
                            ],
                            "Resource": f"arn:aws:s3:::{target_bucket}/*",
                        }
                    ],
                }
            ),
        )
        source.create_bucket(Bucket=source_bucket, CreateBucketConfiguration=location)
        source.put_bucket_versioning(
            Bucket=source_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        source.put_bucket_replication(
            Bucket=source_bucket,
            ReplicationConfiguration={
                "Role": S3_ROLE_ARN,
                "Rules": [
                    {
                        "ID": "to-target-account",
                        "Priority": 1,
                        "Status": "Enabled",
                        "Filter": {},
                        "DeleteMarkerReplication": {"Status": "Disabled"},
                        "Destination": {
                            "Bucket": f"arn:aws:s3:::{target_bucket}",
                            "Account": world.target_account,
                            "AccessControlTranslation": {"Owner": "Destination"},
                        },
                    }
                ],
            },
        )
        # Written after the rule, so live replication covers them.
        for name in ("2026/05/report.csv", "2026/05/avatar.png"):
            source.put_object(Bucket=source_bucket, Key=name, Body=b"demo")


def _template(description: str, parameters: dict[str, str]) -> str:
    resources_: dict[str, Any] = {
        "".join(part.capitalize() for part in key.replace("/", "-").split("-") if part): {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": key, "Type": "String", "Value": value},
        }
        for key, value in parameters.items()
    }
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": description,
            "Resources": resources_,
        }
    )


def _seed_stacks(world: DemoWorld) -> None:
    target_values = {
        "acme-network": {"/acme/network/vpc-id": world.target_vpc_id},
        "acme-data": {"/acme/data/db-instance": world.target_db_id},
        "acme-app": {
            "/acme/app/user-pool-id": world.target_pool_id,
            "/acme/app/alerts-topic": world.target_topic_arn,
        },
    }
    source_values = {
        "acme-data": {"/acme/data/db-instance": world.db_writer_id},
        "acme-app": {"/acme/app/user-pool-id": world.source_pool_id},
    }
    plan: list[tuple[AccountName, list[str], dict[str, dict[str, str]]]] = [
        ("target", world.target_stacks, target_values),
        ("source", world.source_stacks, source_values),
    ]
    for account, stacks, values in plan:
        cfn = world.client(account, "cloudformation")
        for name in stacks:
            cfn.create_stack(
                StackName=name,
                TemplateBody=_template(f"{name} ({account})", values[name]),
                Tags=[{"Key": "app", "Value": "acme"}],
            )


def _seed_cdc_history(world: DemoWorld) -> None:
    """The last `history_minutes` of CDC metrics: far behind, catching up."""
    profile = world.lag
    data: list[dict[str, Any]] = []
    steps = int(profile.history_minutes * 60 / profile.history_step_s)
    for i in range(steps, -1, -1):
        elapsed = -i * profile.history_step_s
        data.extend(_datapoints(world, elapsed, read_only=False))
    put_metric_data(world, data)


def _datapoints(world: DemoWorld, elapsed_s: float, *, read_only: bool) -> list[dict[str, Any]]:
    at = world.started_at + timedelta(seconds=elapsed_s)
    source_lag, target_lag = world.lag.latency(elapsed_s)
    incoming = world.lag.incoming(elapsed_s, read_only)
    dims = world.dms_dimensions
    metrics = (
        (_LATENCY_SOURCE, source_lag, "Seconds"),
        (_LATENCY_TARGET, target_lag, "Seconds"),
        (_INCOMING, incoming, "Count"),
    )
    return [
        {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": value, "Unit": unit}
        for name, value, unit in metrics
    ]


def put_metric_data(world: DemoWorld, data: list[dict[str, Any]]) -> None:
    cloudwatch = world.client("target", "cloudwatch")
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=_NAMESPACE, MetricData=data[start : start + 500])


# --- the lag feeder --------------------------------------------------------------------


class LagFeeder:
    """Keeps DMS's CDC metrics coming, as a running task would: a daemon thread.

    Every `interval_s` real seconds it puts one sample at the demo's clock:
    latency falling by the world's `LagProfile`, and `CDCIncomingChanges`
    at zero once the source is read-only (a fix sets it, or the read-only step
    is done in the run state the world points at).
    """

    def __init__(self, world: DemoWorld, *, interval_s: float = 5.0) -> None:
        self.world = world
        self.interval_s = interval_s
        self.samples = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> dict[str, float]:
        """Put one sample now; returns what was put."""
        elapsed = self.world.elapsed_s()
        read_only = self.world.refresh_read_only()
        data = _datapoints(self.world, elapsed, read_only=read_only)
        put_metric_data(self.world, data)
        self.samples += 1
        return {str(d["MetricName"]): float(d["Value"]) for d in data}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # the emulator stopping under us, mostly: keep quiet
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.interval_s)

    def start(self) -> LagFeeder:
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="demo-lag-feeder", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> LagFeeder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- the loopback web site -------------------------------------------------------------


class _SiteHandler(BaseHTTPRequestHandler):
    server_version = "acme-demo/1.0"
    ROUTES: dict[str, tuple[str, bytes]] = {
        "/healthz": ("text/plain", b"ok\n"),
        "/api/ping": ("application/json", b'{"pong": true}\n'),
    }

    def _answer(self, body: bool) -> None:
        route = self.ROUTES.get(self.path.split("?", 1)[0])
        status, (ctype, payload) = (200, route) if route else (404, ("text/plain", b"not found\n"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stderr belongs to the terminal app


class DemoSite:
    """The 'target app' the synthetic checks probe: a tiny web server on 127.0.0.1."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the demo site is not running")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> DemoSite:
        if self._server is None:
            self._server = ThreadingHTTPServer((LOOPBACK, 0), _SiteHandler)
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="demo-site", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- the runbook -----------------------------------------------------------------------


def _q(value: str | int) -> str:
    """A TOML value: JSON's string and integer syntax is TOML's too (ASCII only here)."""
    return json.dumps(value)


def _synthetic(urls: list[str]) -> str:
    items = ", ".join(f"{{ url = {_q(u)} }}" for u in urls)
    return f'\n[[steps.checks]]\nid = "synthetic.http"\nparams = {{ urls = [{items}] }}\n'


def render_runbook(world: DemoWorld) -> str:
    """The demo runbook's text: the bundled playbook's steps with this world's IDs."""
    template = Template(resources.files("runbook").joinpath("demo_runbook.toml").read_text("utf-8"))
    pairs = ", ".join(
        f"{{ source_bucket = {_q(s)}, target_bucket = {_q(t)} }}" for s, t in world.bucket_pairs
    )
    site = world.site_url
    return template.substitute(
        source_account=_q(world.source_account),
        target_account=_q(world.target_account),
        region=_q(world.region),
        source_role_arn=_q(world.source_role_arn),
        external_id=_q(world.external_id),
        zone_id=_q(world.zone_id),
        record_name=_q(world.record_name),
        target_ip=_q(world.target_ip),
        source_pool_id=_q(world.source_pool_id),
        target_pool_id=_q(world.target_pool_id),
        source_stacks=json.dumps(world.source_stacks),
        target_stacks=json.dumps(world.target_stacks),
        source_vpc_id=_q(world.source_vpc_id),
        target_vpc_id=_q(world.target_vpc_id),
        endpoint_id=_q(world.endpoint_id),
        task_id=_q(world.task_id),
        lag_window_minutes=_q(world.lag.window_minutes),
        bucket_pairs=f"[{pairs}]",
        target_client_id=_q(world.target_client_id),
        source_client_id=_q(world.source_client_id),
        cognito_role_arn=_q(world.cognito_role_arn),
        # The migration trigger must name the source's role: a deliberate reference.
        trigger_allow=_q(f"lambda:{world.trigger_function}:OLD_ROLE_ARN"),
        synthetic_validate=(
            _synthetic([f"{site}/healthz", f"{site}/api/ping"]) if site is not None else ""
        ),
        synthetic_verify=_synthetic([f"{site}/healthz"]) if site is not None else "",
    )


class DemoDirectoryError(RuntimeError):
    """The chosen directory holds something the demo must not overwrite."""


def write_runbook(directory: str | Path, world: DemoWorld) -> Path:
    """Write `runbook.toml` for the world into `directory` and return its path.

    Refuses to overwrite a runbook.toml the demo did not write. A run state left
    by an earlier demo belongs to a world that no longer exists (the emulator
    starts empty each time): it is moved aside within the directory, never
    deleted, and `world.archived_state` names where. The lag feeder then follows
    the new run state (the read-only step).
    """
    from runbook.runtime import STATE_FILE

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RUNBOOK_FILE
    if path.exists() and not path.read_text(encoding="utf-8").startswith(DEMO_MARKER):
        raise DemoDirectoryError(
            f"{path} exists and was not written by the demo; choose another directory"
        )
    state_dir = directory / STATE_DIR
    if state_dir.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        archived = directory / f"{STATE_DIR}-previous-{stamp}"
        state_dir.rename(archived)
        world.archived_state = archived
    text = render_runbook(world)
    temporary = path.with_name(f".{RUNBOOK_FILE}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    world.state_file = state_dir / STATE_FILE
    return path


# --- fixes and hints -------------------------------------------------------------------


def _fix_source_refs(world: DemoWorld) -> str:
    """Re-point target Lambda environments that name the source account."""
    lam = world.client("target", "lambda")
    changed: list[str] = []
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            name = fn["FunctionName"]
            if name == world.trigger_function:
                continue  # its OLD_ROLE_ARN must name the source: allowed in the runbook
            variables: dict[str, str] = (fn.get("Environment") or {}).get("Variables") or {}
            fixed = {
                k: v.replace(world.source_account, world.target_account)
                for k, v in variables.items()
            }
            if fixed != variables:
                lam.update_function_configuration(
                    FunctionName=name, Environment={"Variables": fixed}
                )
                keys = ", ".join(k for k in fixed if fixed[k] != variables[k])
                changed.append(f"{name} ({keys})")
    if not changed:
        return "no target Lambda environment names the source account; nothing changed"
    return (
        f"Lambda {'; '.join(changed)} now name the target account {world.target_account} "
        f"instead of {world.source_account}"
    )


_ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)
_ACTION_FIELDS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def _fix_alarm_topics(world: DemoWorld) -> str:
    """Point every target alarm action at the same-named topic in the target account."""
    cloudwatch = world.client("target", "cloudwatch")
    sns = world.client("target", "sns")
    source_prefix = f":{world.source_account}:"
    changed: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            actions = {f: list(alarm.get(f) or []) for f in _ACTION_FIELDS}
            if not any(source_prefix in arn for arns in actions.values() for arn in arns):
                continue
            repointed: dict[str, list[str]] = {}
            for f, arns in actions.items():
                repointed[f] = []
                for arn in arns:
                    if arn.startswith("arn:aws:sns:") and source_prefix in arn:
                        topic = arn.rsplit(":", 1)[-1]
                        arn = sns.create_topic(Name=topic)["TopicArn"]  # idempotent
                    repointed[f].append(arn)
            kwargs = {f: alarm[f] for f in _ALARM_FIELDS if alarm.get(f) not in (None, [])}
            cloudwatch.put_metric_alarm(**kwargs, **{f: v for f, v in repointed.items() if v})
            changed.append(alarm["AlarmName"])
    if not changed:
        return "no target alarm notifies the source account; nothing changed"
    return (
        f"alarm {', '.join(changed)} now notifies topics in the target account "
        f"{world.target_account}"
    )


def _fix_writes_stopped(world: DemoWorld) -> str:
    world.source_read_only.set()
    return (
        "source database marked read-only in the emulator: CDCIncomingChanges falls to 0 "
        "from the next sample (the read-only step must still be confirmed)"
    )


def _fix_migration_progress(world: DemoWorld, *, percent: float = 92.0) -> str:
    """Simulate the sign-ins of the parallel run: the trigger moves users to the target."""
    source = world.client("source", "cognito-idp")
    target = world.client("target", "cognito-idp")

    def users(client: Any, pool: str) -> Iterator[dict[str, Any]]:
        for page in client.get_paginator("list_users").paginate(UserPoolId=pool):
            yield from page.get("Users", [])

    def email(user: dict[str, Any]) -> str:
        found = (a["Value"] for a in user.get("Attributes", []) if a["Name"] == "email")
        return str(next(found, "")).casefold()

    # Usernames are generated (the pools sign in by email): users match by email.
    moved = {email(u) for u in users(target, world.target_pool_id)}
    everyone = list(users(source, world.source_pool_id))
    wanted = math.ceil(len(everyone) * percent / 100.0)
    pending = [u for u in everyone if email(u) not in moved][: max(0, wanted - len(moved))]

    def move(user: dict[str, Any]) -> None:
        person = {
            a["Name"]: a["Value"]
            for a in user.get("Attributes", [])
            if a["Name"] not in ("sub", "email_verified")
        }
        _create_user(target, world.target_pool_id, person)

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-fix") as pool:
        list(pool.map(move, pending))
    world.users_migrated = len(moved) + len(pending)
    return (
        f"{len(pending)} users signed in to the target and were migrated (simulated); "
        f"{world.users_migrated} of {len(everyone)} now in the target pool"
    )


FIXES: dict[str, Callable[[DemoWorld], str]] = {
    "refs.source_account": _fix_source_refs,
    "alarms.topics": _fix_alarm_topics,
    "source.writes_stopped": _fix_writes_stopped,
    "cognito.migration_progress": _fix_migration_progress,
}
"""Fixes applied in the emulator with a key in the app; each returns what it changed."""

_FIX_OR_WAIVE = "press f to fix it in the emulator, or w to waive with a reason"

HINTS: dict[str, str] = {
    "refs.source_account": (
        f"A target Lambda's environment still names the source account {SOURCE_ACCOUNT}: "
        + _FIX_OR_WAIVE
        + " (the fix re-points it at the target)."
    ),
    "alarms.topics": (
        "An alarm copied from the source still notifies the source's SNS topic: "
        + _FIX_OR_WAIVE
        + " (the fix re-points it at the target's topic)."
    ),
    "dms.cdc_lag": (
        "CDC is still catching up after the full load; in the demo its lag falls below "
        "60 s within the first minutes. Re-run the checks with r in a minute or two: "
        "in life you would wait, not waive."
    ),
    "source.writes_stopped": (
        "Confirm the read-only step first; the emulated task then sees no more incoming "
        "changes and drains within about 3 minutes: re-run with r. (f marks the source "
        "read-only in the emulator at once; w waives with a reason.)"
    ),
    "dns.ttl": (
        "The lowered TTL must be in force for 24 h or one old TTL; in a rehearsal, waive "
        "it with a reason (w)."
    ),
    "codestar.connections": (
        "Skipped: the emulator has no CodeStar Connections API, and skipped does not pass "
        "a gate. Waive it with a reason (w), e.g. 'connection re-authorised in the console'."
    ),
    "cfn.drift": (
        "Skipped: the emulator has no CloudFormation drift detection. The check is "
        "advisory, so it does not hold the step."
    ),
    "dms.task": (
        "Warns in the demo: the emulator has no DescribeTableStatistics, so table errors "
        "cannot be checked. A warning does not hold the gate."
    ),
    "cognito.migration_progress": (
        "Advisory: only the users who signed in since the trigger went live have moved. "
        "Press f to simulate a wave of sign-ins, or carry on: the rest are force-migrated "
        "after the flip."
    ),
}
"""How each check that does not pass at first is cleared in the demo."""


def bound_fixes(world: DemoWorld) -> dict[str, Callable[[], str]]:
    """FIXES bound to one world: what the app's demo hooks call."""

    def bind(fix: Callable[[DemoWorld], str]) -> Callable[[], str]:
        return lambda: fix(world)

    return {check: bind(fix) for check, fix in FIXES.items()}


def banner(world: DemoWorld) -> str:
    return (
        f"Demo: AWS is an emulator at {world.endpoint_url}; nothing leaves this machine. "
        "Some gates fail at first, as in life: f fixes a check in the emulator, "
        "w waives a gate with a reason."
    )


# --- everything together -----------------------------------------------------------------


class Demo:
    """`runbook demo` without the app: emulator, world, runbook, feeder and site.

    `with Demo(directory) as demo:` the emulator is running and this process
    points at it; `demo.runbook_path` is ready to open. Leaving stops the
    feeder, the site and the emulator and restores the environment. Only
    `directory` is written to.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        users: int = 300,
        time_scale: float = 1.0,
        feeder_interval_s: float = 5.0,
        lag: LagProfile | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.users = users
        self.time_scale = time_scale
        self.feeder_interval_s = feeder_interval_s
        self.lag = lag
        self.emulator = Emulator()
        self.site = DemoSite()
        self._world: DemoWorld | None = None
        self._feeder: LagFeeder | None = None
        self._runbook: Path | None = None

    @property
    def world(self) -> DemoWorld:
        if self._world is None:
            raise RuntimeError("the demo is not running")
        return self._world

    @property
    def feeder(self) -> LagFeeder:
        if self._feeder is None:
            raise RuntimeError("the demo is not running")
        return self._feeder

    @property
    def runbook_path(self) -> Path:
        if self._runbook is None:
            raise RuntimeError("the demo is not running")
        return self._runbook

    def fixes(self) -> dict[str, Callable[[], str]]:
        return bound_fixes(self.world)

    @property
    def hints(self) -> dict[str, str]:
        return dict(HINTS)

    @property
    def banner(self) -> str:
        return banner(self.world)

    def start(self) -> Demo:
        self.emulator.__enter__()
        try:
            self.site.start()
            world = seed(self.emulator, users=self.users, time_scale=self.time_scale, lag=self.lag)
            world.site_url = self.site.url
            self._world = world
            self._runbook = write_runbook(self.directory, world)
            self._feeder = LagFeeder(world, interval_s=self.feeder_interval_s).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._feeder is not None:
            self._feeder.stop()
        self.site.stop()
        self.emulator.__exit__(None, None, None)

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
