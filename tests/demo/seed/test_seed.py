"""Seeding, service by service: one world seeded into one emulator for the module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from runbook.demo.emulator import Emulator
from runbook.demo.lag import INCOMING, LATENCY_SOURCE, LATENCY_TARGET, NAMESPACE, SOURCE_ROWS
from runbook.demo.model import AccountName, DemoWorld
from runbook.demo.world import seed

USERS = 20


@pytest.fixture(scope="module")
def world() -> Iterator[DemoWorld]:
    with Emulator() as emulator:
        yield seed(emulator, users=USERS)


def iam(world: DemoWorld) -> None:
    source = {r["RoleName"] for r in world.client("source", "iam").list_roles()["Roles"]}
    assert {"runbook-read-only", "cognito-migration-read", "s3-replication"} <= source
    target = {r["RoleName"] for r in world.client("target", "iam").list_roles()["Roles"]}
    assert "acme-lambda-exec" in target


def vpc(world: DemoWorld) -> None:
    networks: list[tuple[AccountName, str]] = [
        ("source", world.source_vpc_id),
        ("target", world.target_vpc_id),
    ]
    for account, vpc_id in networks:
        vpcs = world.client(account, "ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
        assert vpcs[0]["CidrBlock"] == "10.0.0.0/16"  # they overlap
    endpoint = world.client("target", "ec2").describe_vpc_endpoints(
        VpcEndpointIds=[world.endpoint_id]
    )["VpcEndpoints"][0]
    assert endpoint["ServiceName"] == world.endpoint_service_name
    assert endpoint["VpcId"] == world.target_vpc_id


def rds(world: DemoWorld) -> None:
    replica = world.client("source", "rds").describe_db_instances(
        DBInstanceIdentifier=world.db_replica_id
    )["DBInstances"][0]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == world.db_writer_id
    assert replica["Endpoint"]["Address"] == world.db_replica_host
    target = world.client("target", "rds").describe_db_instances()["DBInstances"]
    assert [db["DBInstanceIdentifier"] for db in target] == [world.target_db_id]


def dms(world: DemoWorld) -> None:
    client = world.client("target", "dms")
    task = client.describe_replication_tasks()["ReplicationTasks"][0]
    assert task["ReplicationTaskArn"] == world.task_arn
    assert task["MigrationType"] == "full-load-and-cdc"
    source = client.describe_endpoints(
        Filters=[{"Name": "endpoint-arn", "Values": [task["SourceEndpointArn"]]}]
    )["Endpoints"][0]
    assert source["ServerName"] == world.db_replica_host  # the replica, never the writer
    group = world.client("source", "ec2").describe_security_groups(
        GroupIds=[world.db_security_group_id]
    )["SecurityGroups"][0]
    [rule] = group["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (world.db_port, world.db_port)
    assert [r["CidrIp"] for r in rule["IpRanges"]] == [f"{world.dms_public_ip}/32"]


def route53(world: DemoWorld) -> None:
    sets = world.client("target", "route53").list_resource_record_sets(
        HostedZoneId=world.zone_id, StartRecordName=world.record_name, StartRecordType="A"
    )["ResourceRecordSets"]
    record = sets[0]
    assert record["Name"].rstrip(".") == world.record_name
    assert int(record["TTL"]) == world.record_ttl
    assert record["ResourceRecords"] == [{"Value": world.source_ip}]


def alarms(world: DemoWorld) -> None:
    found = world.client("target", "cloudwatch").describe_alarms()["MetricAlarms"]
    actions = {a["AlarmName"]: a["AlarmActions"] for a in found}
    assert actions[world.alarm_name] == [world.source_topic_arn]  # the leftover
    assert actions["acme-api-latency"] == [world.target_topic_arn]


def lambdas(world: DemoWorld) -> None:
    config = world.client("target", "lambda").get_function_configuration(
        FunctionName=world.stale_function
    )
    assert world.source_account in config["Environment"]["Variables"]["ORDERS_QUEUE_URL"]


def cognito(world: DemoWorld) -> None:
    assert (world.users_total, world.users_migrated) == (USERS, int(USERS * 0.4))
    pools: list[tuple[AccountName, str, int]] = [
        ("source", world.source_pool_id, world.users_total),
        ("target", world.target_pool_id, world.users_migrated),
    ]
    for account, pool, count in pools:
        users = world.client(account, "cognito-idp").list_users(UserPoolId=pool)["Users"]
        assert len(users) == count
    pool = world.client("target", "cognito-idp").describe_user_pool(
        UserPoolId=world.target_pool_id
    )["UserPool"]
    assert pool["LambdaConfig"]["UserMigration"] == world.trigger_function_arn


def s3(world: DemoWorld) -> None:
    source = world.client("source", "s3")
    for source_bucket, target_bucket in world.bucket_pairs:
        rules = source.get_bucket_replication(Bucket=source_bucket)["ReplicationConfiguration"][
            "Rules"
        ]
        assert rules[0]["Destination"]["Bucket"] == f"arn:aws:s3:::{target_bucket}"
        assert rules[0]["Destination"]["Account"] == world.target_account


def cfn(world: DemoWorld) -> None:
    accounts: list[tuple[AccountName, list[str]]] = [
        ("source", world.source_stacks),
        ("target", world.target_stacks),
    ]
    for account, stacks in accounts:
        found = world.client(account, "cloudformation").describe_stacks()["Stacks"]
        assert sorted(s["StackName"] for s in found) == sorted(stacks)


def cdc_history(world: DemoWorld) -> None:
    metrics = world.client("target", "cloudwatch").list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in metrics} == {
        LATENCY_SOURCE,
        LATENCY_TARGET,
        INCOMING,
        SOURCE_ROWS,
    }


SERVICES: dict[str, Callable[[DemoWorld], None]] = {
    f.__name__: f
    for f in (iam, vpc, rds, dms, route53, alarms, lambdas, cognito, s3, cfn, cdc_history)
}


@pytest.mark.parametrize("service", list(SERVICES))
def test_seeded(world: DemoWorld, service: str) -> None:
    SERVICES[service](world)
