"""The source account's read-only guard, swept over every operation botocore knows."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from runbook.aws.guard import SOURCE_ALLOWLIST, ReadOnlyViolation, is_allowed
from runbook.aws.session import build_session
from runbook.model import Account
from tests.support.runbooks import REGION, SOURCE, SOURCE_ROLE

PROJECT_SERVICES = [
    "sts",
    "ec2",
    "rds",
    "dms",
    "cloudformation",
    "cognito-idp",
    "s3",
    "route53",
    "cloudwatch",
    "lambda",
    "iam",
    "codepipeline",
    "codestar-connections",
    "codeconnections",
    "ecs",
    "ecr",
    "codebuild",
    "sns",
    "dynamodb",
]
ALL_SERVICES = botocore.session.get_session().get_available_services()


def source_session() -> boto3.Session:
    return build_session(Account(account_id=SOURCE, region=REGION), read_only=True)


class WireTap:
    """Counts requests that got as far as being sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, request: Any, **_: Any) -> None:
        self.sent.append(request.url)


def sweep(service: str) -> tuple[int, list[str]]:
    session = source_session()
    client = session.client(service, region_name=REGION)
    tap = WireTap()
    client.meta.events.register("before-send", tap)
    blocked = 0
    leaks = []
    for operation in client.meta.service_model.operation_names:
        if is_allowed(service, operation):
            continue
        method = client.meta.method_to_api_mapping
        py_name = next(k for k, v in method.items() if v == operation)
        if py_name not in dir(client):
            continue  # bidirectional streams botocore does not expose: not callable at all
        try:
            getattr(client, py_name)()
        except ReadOnlyViolation as exc:
            assert exc.operation == operation
            blocked += 1
        except Exception as exc:  # anything else means the guard did not stop it first
            leaks.append(f"{service}:{operation} -> {type(exc).__name__}")
        else:
            leaks.append(f"{service}:{operation} -> returned")
    assert tap.sent == [], f"{service}: requests reached the wire: {tap.sent[:3]}"
    return blocked, leaks


@pytest.mark.parametrize("service", PROJECT_SERVICES)
def test_every_non_allowlisted_operation_is_blocked_before_the_wire(service: str) -> None:
    blocked, leaks = sweep(service)
    assert leaks == []
    assert blocked > 0


@pytest.mark.slow
@pytest.mark.parametrize("service", [s for s in ALL_SERVICES if s not in PROJECT_SERVICES])
def test_sweep_of_all_services(service: str) -> None:
    _blocked, leaks = sweep(service)
    assert leaks == []


def test_presigned_urls_are_blocked() -> None:
    s3 = source_session().client("s3", region_name=REGION)
    for method in ("put_object", "delete_object", "get_object", "delete_bucket"):
        with pytest.raises(ReadOnlyViolation):
            s3.generate_presigned_url(method, Params={"Bucket": "b", "Key": "k"})
    with pytest.raises(ReadOnlyViolation):
        s3.generate_presigned_post("b", "k")
    rds = source_session().client("rds", region_name=REGION)
    with pytest.raises(ReadOnlyViolation):
        rds.generate_db_auth_token("db.example", 5432, "admin")


def test_name_prefixes_are_not_trusted() -> None:
    assert not is_allowed("cognito-identity", "GetId")  # creates an identity
    assert not is_allowed("redshift", "GetClusterCredentials")  # creates a DB user
    assert not is_allowed("cognito-idp", "AdminInitiateAuth")  # records an auth event


def test_paginators_and_waiters_are_guarded_too() -> None:
    ec2 = source_session().client("ec2", region_name=REGION)
    paginator = ec2.get_paginator("describe_snapshots")  # not on the allowlist
    with pytest.raises(ReadOnlyViolation):
        next(iter(paginator.paginate()))
    waiter = ec2.get_waiter("instance_running")  # DescribeInstances is not allowlisted
    with pytest.raises(ReadOnlyViolation):
        waiter.wait(InstanceIds=["i-1"], WaiterConfig={"Delay": 0, "MaxAttempts": 1})


def test_allowlisted_operations_are_not_blocked() -> None:
    with mock_aws():
        session = build_session(
            Account(account_id=SOURCE, region=REGION, role_arn=SOURCE_ROLE, external_id="ext-1"),
            read_only=True,
        )
        for service, operations in SOURCE_ALLOWLIST.items():
            client = session.client(service, region_name=REGION)
            names = {v: k for k, v in client.meta.method_to_api_mapping.items()}
            for operation in operations:
                assert operation in names, f"{service}:{operation} is not a real operation"
                try:
                    getattr(client, names[operation])()
                except ReadOnlyViolation:
                    pytest.fail(f"{service}:{operation} is allowlisted but was blocked")
                except Exception:
                    pass  # got past the guard; validation or moto had its say


DYNAMODB_ITEM_READS = (
    "Scan",
    "Query",
    "GetItem",
    "BatchGetItem",
    "TransactGetItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExportTableToPointInTime",
)


def test_dynamodb_table_metadata_is_readable_but_never_its_items() -> None:
    """cfn.drift describes hand-made tables; their items are not the runbook's to read."""
    for operation in ("ListTables", "DescribeTable", "DescribeTimeToLive"):
        assert is_allowed("dynamodb", operation)
    for operation in DYNAMODB_ITEM_READS:
        assert not is_allowed("dynamodb", operation)
    with mock_aws():
        account = Account(
            account_id=SOURCE, region=REGION, role_arn=SOURCE_ROLE, external_id="ext-1"
        )
        build_session(account, read_only=False).client("dynamodb", region_name=REGION).create_table(
            TableName="sessions",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        # Both layers (parameter build and signing) let the reads through, to moto.
        ddb = build_session(account, read_only=True).client("dynamodb", region_name=REGION)
        assert ddb.list_tables()["TableNames"] == ["sessions"]
        table = ddb.describe_table(TableName="sessions")["Table"]
        assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
        ddb.describe_time_to_live(TableName="sessions")
        ddb.describe_continuous_backups(TableName="sessions")
        ddb.list_tags_of_resource(ResourceArn=table["TableArn"])
        with pytest.raises(ReadOnlyViolation):
            ddb.scan(TableName="sessions")
        with pytest.raises(ReadOnlyViolation):
            ddb.get_item(TableName="sessions", Key={"id": {"S": "a"}})
        with pytest.raises(ReadOnlyViolation):
            ddb.execute_statement(Statement='SELECT * FROM "sessions"')


def test_target_sessions_are_not_guarded() -> None:
    with mock_aws():
        session = build_session(Account(account_id="123456789012", region=REGION), read_only=False)
        session.client("s3", region_name=REGION).create_bucket(Bucket="target-bucket")


METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH")


def dummy(shape: Any) -> Any:
    """A value of `shape` that passes botocore's parameter validation."""
    kind = shape.type_name
    if kind == "structure":
        return {name: dummy(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [dummy(shape.member)] * int(shape.metadata.get("min", 0))
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("double", "float"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return "2026-01-01T00:00:00Z"
    if kind == "blob":
        return b"x"
    enum = shape.metadata.get("enum")
    if enum:
        return enum[0]
    return "x" * max(1, int(shape.metadata.get("min", 1)))


@pytest.mark.parametrize("service", sorted(SOURCE_ALLOWLIST))
def test_presigned_urls_with_another_method_are_refused(service: str) -> None:
    """Every allowlisted operation, presigned with every HTTP method but its own."""
    client = source_session().client(service, region_name=REGION)
    names = {v: k for k, v in client.meta.method_to_api_mapping.items()}
    refused = 0
    for operation in sorted(SOURCE_ALLOWLIST[service]):
        model = client.meta.service_model.operation_model(operation)
        params = dummy(model.input_shape) if model.input_shape is not None else {}
        own = model.http["method"].upper()
        url = client.generate_presigned_url(names[operation], Params=params)
        assert url.startswith("http")  # its own method still presigns
        for method in METHODS:
            if method == own:
                continue
            with pytest.raises(ReadOnlyViolation):
                client.generate_presigned_url(names[operation], Params=params, HttpMethod=method)
            refused += 1
    assert refused == 5 * len(SOURCE_ALLOWLIST[service])


def test_signing_a_request_whose_method_is_not_its_operations_is_refused() -> None:
    from botocore.awsrequest import AWSRequest

    s3 = source_session().client("s3", region_name=REGION)
    forged = AWSRequest(method="DELETE", url="https://b.s3.amazonaws.com/")
    with pytest.raises(ReadOnlyViolation):
        s3._request_signer.sign("HeadBucket", forged)
    cfn = source_session().client("cloudformation", region_name=REGION)
    wrong = AWSRequest(method="POST", url="https://cloudformation.amazonaws.com/")
    with pytest.raises(ReadOnlyViolation):  # GetTemplate's name, for an S3 request
        s3._request_signer.sign("GetTemplate", wrong)
    cfn._request_signer.sign("GetTemplate", wrong)  # its own service and method: signed
