"""dms.network_path judged from the DMS side: the test-connection results first.

DescribeConnections (AWS DMS API) holds the outcome of "test connection" between a
replication instance and an endpoint: `successful`, `testing`, `failed` or
`deleting`. moto only ever reports `successful`, so the other statuses are answered
on the check's own client with a response validated against the service model.
The source account is read-only: the check never demands a change there, it says
what the source's owner must allow.
"""

from __future__ import annotations

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients, result_text
from tests.support.checks import run_check as run
from tests.support.dms_endpoints import (
    answer_operation,
    connection,
    fail_operation,
    task_endpoints,
)
from tests.support.dmsworld import DMS_IP, TASK, SourceDb, make_task


def allow(clients: Clients, sg: str, cidr: str) -> None:
    clients("source", "ec2").authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": cidr}]}
        ],
    )


def public_replica(clients: Clients) -> None:
    clients("source", "rds").modify_db_instance(
        DBInstanceIdentifier="prod-db-replica", PubliclyAccessible=True, ApplyImmediately=True
    )


def test_successful_connection_tests_pass_without_reading_the_source_rules(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    arn = make_task(clients, source_db.replica_host)
    instance, source, target = task_endpoints(clients, arn)
    dms = clients("target", "dms")
    for endpoint in (source, target):
        dms.test_connection(ReplicationInstanceArn=instance, EndpointArn=endpoint)
    # No rule names DMS's IP: the path may run through PrivateLink or a peering, and
    # DMS's own test says it works.
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.PASS, result
    assert result.evidence["connections"] == {source: "successful", target: "successful"}


def test_failed_connection_test_fails_even_with_an_exact_rule(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    arn = make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")  # the old check passed on this alone
    instance, source, target = task_endpoints(clients, arn)
    message = "Test connection failed for endpoint: timed out connecting to the database"
    answer_operation(
        check_context.client("target", "dms"),
        "DescribeConnections",
        {
            "Connections": [
                connection(instance, source, "failed", message),
                connection(instance, target, "successful"),
            ]
        },
    )
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "source endpoint cutover-task-source" in result.summary
    assert message in result.summary


def test_untested_path_with_an_exact_rule_warns_never_passes(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert "not tested" in result.summary
    text = result_text(result)
    assert "aws dms test-connection" in text
    assert f"admits {DMS_IP}" in text


def test_untested_public_path_without_a_rule_fails_with_an_instruction(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert (
        f"ask the source owner to allow inbound tcp 3306 from {DMS_IP}/32 on {source_db.sg_id}"
        in result.summary
    )


@pytest.mark.parametrize("status", ["testing", "deleting"])
def test_a_test_in_progress_is_not_a_pass(
    check_context: CheckContext, clients: Clients, source_db: SourceDb, status: str
) -> None:
    arn = make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    instance, source, target = task_endpoints(clients, arn)
    answer_operation(
        check_context.client("target", "dms"),
        "DescribeConnections",
        {
            "Connections": [
                connection(instance, source, status),
                connection(instance, target, "successful"),
            ]
        },
    )
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert result.evidence["connections"][source] == status


def test_unreadable_connection_tests_are_said_and_not_a_pass(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, source_db.replica_host)
    public_replica(clients)
    allow(clients, source_db.sg_id, f"{DMS_IP}/32")
    fail_operation(check_context.client("target", "dms"), "DescribeConnections", "AccessDenied")
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.WARN, result
    assert "dms:DescribeConnections" in result_text(result)


def interface_endpoint(clients: Clients) -> tuple[str, str]:
    """An interface endpoint in the target to the source's endpoint service: (id, DNS name)."""
    ec2 = clients("target", "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    endpoint = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=vpc,
        ServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        SubnetIds=[subnet],
    )["VpcEndpoint"]
    return str(endpoint["VpcEndpointId"]), str(endpoint["DnsEntries"][0]["DnsName"])


def test_privatelink_path_is_not_failed_by_construction(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    endpoint_id, dns = interface_endpoint(clients)
    make_task(clients, dns)
    # No rule for DMS's public IP in the source: over PrivateLink none is needed.
    result = run(
        check_context,
        "dms.network_path",
        {"task_id": TASK, "alias_for": source_db.replica_host},
    )
    assert result.status == Status.WARN, result
    text = result_text(result)
    assert f"PrivateLink: interface endpoint {endpoint_id}" in text
    assert "vpce-svc-0123456789abcdef0" in text
    assert "the source owner must let the endpoint service's load balancer reach" in text
    assert source_db.sg_id in text


def test_privatelink_endpoint_missing_in_the_target_fails(
    check_context: CheckContext, clients: Clients, source_db: SourceDb
) -> None:
    make_task(clients, "vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123.us-east-1.vpce.amazonaws.com")
    result = run(check_context, "dms.network_path", {"task_id": TASK})
    assert result.status == Status.FAIL, result
    assert "vpce-0123456789abcdef0 not found in the target account" in result.summary
