"""refs.source_account: SSM, Step Functions, EventBridge and resource policies in the target.

Real moto resources with the source account ID planted in one kind of place
each; access denials are injected on `before-send` with the error bodies the
services document (JSON `__type` for the JSON protocols, XML for S3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, Status
from tests.support.checks import result_text as text
from tests.support.checks import run_check as run
from tests.support.checks import service_role
from tests.support.runbooks import REGION, SOURCE, TARGET

NEW_SURFACES = ["ssm", "stepfunctions", "events", "iam", "kms", "s3", "sqs", "sns"]


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: str, action: str | list[str], resource: str, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": action,
        "Resource": resource,
        **extra,
    }


@pytest.fixture
def clean(admin: Any, check_context: CheckContext) -> dict[str, str]:
    """One resource of each new kind, referring only to the target account."""
    session = admin("target")
    ssm = session.client("ssm")
    ssm.put_parameter(
        Name="/app/queue", Type="String", Value=f"https://sqs.{REGION}.amazonaws.com/{TARGET}/q"
    )
    # Longer numbers that contain the source ID are not the account ID.
    ssm.put_parameter(Name="/app/seq", Type="StringList", Value=f"{SOURCE}9,9{SOURCE}")
    ssm.put_parameter(Name="/app/db/password", Type="SecureString", Value="hunter2")
    role = service_role(admin, "states")
    session.client("stepfunctions").create_state_machine(
        name="orders",
        roleArn=role,
        definition=json.dumps(
            {
                "StartAt": "Charge",
                "States": {
                    "Charge": {
                        "Type": "Task",
                        "Resource": f"arn:aws:lambda:{REGION}:{TARGET}:function:charge",
                        "End": True,
                    }
                },
            }
        ),
    )
    events = session.client("events")
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_targets(
        Rule="nightly",
        Targets=[{"Id": "1", "Arn": f"arn:aws:sqs:{REGION}:{TARGET}:jobs"}],
    )
    kms = session.client("kms")
    kms.create_key(Description="app data")
    s3 = session.client("s3")
    s3.create_bucket(Bucket="app-assets")
    s3.create_bucket(Bucket="app-replica")
    # The cross-account replication grant the playbook's S3 step sets up.
    s3.put_bucket_policy(
        Bucket="app-replica",
        Policy=policy(
            allow(
                f"arn:aws:iam::{SOURCE}:role/s3-replication",
                ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ObjectOwnerOverrideToBucketOwner"],
                "arn:aws:s3:::app-replica/*",
            ),
            allow(
                f"arn:aws:iam::{SOURCE}:role/s3-replication",
                ["s3:List*", "s3:GetBucketVersioning", "s3:PutBucketVersioning"],
                "arn:aws:s3:::app-replica",
            ),
        ),
    )
    sqs = session.client("sqs")
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "Policy": policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": f"arn:aws:sqs:{REGION}:{TARGET}:jobs",
                }
            )
        },
    )
    session.client("sns").create_topic(Name="alerts")
    return {"states_role": role, "queue": queue}


def test_clean_target_passes_and_says_what_it_scanned(
    check_context: CheckContext, clean: dict[str, str]
) -> None:
    result = run(check_context, "refs.source_account", {"surfaces": NEW_SURFACES})
    assert result.status == Status.PASS, text(result)
    scanned = result.evidence["scanned"]
    assert scanned["ssm"] == 3
    assert scanned["stepfunctions"] == 1
    assert scanned["events"] >= 2  # the default bus and the rule
    assert scanned["iam"] == 1
    assert scanned["kms"] == 1
    assert scanned["s3"] == 2
    assert scanned["sqs"] == 1
    assert scanned["sns"] == 1
    # The replication grant is shown, not hidden, and does not block.
    assert [r["resource"] for r in result.evidence["expected"]] == ["app-replica", "app-replica"]
    assert "S3 replication from the source" in text(result)
    # A SecureString is never read: the summary says how many were left unread.
    assert result.evidence["secure_strings_not_read"] == ["/app/db/password"]
    assert "1 SecureString value not read" in result.summary
    assert "hunter2" not in json.dumps(result.evidence)


Plant = Callable[[Any, dict[str, str]], None]


def plant_ssm(session: Any, clean: dict[str, str]) -> None:
    session.client("ssm").put_parameter(
        Name="/app/orders/topic",
        Type="String",
        Value=f"arn:aws:sns:{REGION}:{SOURCE}:orders",
    )


def plant_ssm_key(session: Any, clean: dict[str, str]) -> None:
    session.client("ssm").put_parameter(
        Name="/app/api/key",
        Type="SecureString",
        Value="not-read",
        KeyId=f"arn:aws:kms:{REGION}:{SOURCE}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )


def plant_stepfunctions(session: Any, clean: dict[str, str]) -> None:
    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": f"arn:aws:sns:{REGION}:{SOURCE}:orders"},
                "End": True,
            }
        },
    }
    session.client("stepfunctions").create_state_machine(
        name="notify", roleArn=clean["states_role"], definition=json.dumps(definition)
    )


def plant_events_target(session: Any, clean: dict[str, str]) -> None:
    events = session.client("events")
    events.create_event_bus(Name="orders")
    events.put_rule(Name="forward", EventBusName="orders", EventPattern='{"source": ["app"]}')
    events.put_targets(
        Rule="forward",
        EventBusName="orders",
        Targets=[{"Id": "src", "Arn": f"arn:aws:events:{REGION}:{SOURCE}:event-bus/default"}],
    )


def plant_events_bus_policy(session: Any, clean: dict[str, str]) -> None:
    session.client("events").put_permission(
        Action="events:PutEvents", Principal=SOURCE, StatementId="from-source"
    )


def plant_iam(session: Any, clean: dict[str, str]) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    session.client("iam").create_role(
        RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust)
    )


def plant_kms(session: Any, clean: dict[str, str]) -> None:
    session.client("kms").create_key(
        Description="copied",
        Policy=policy(allow(f"arn:aws:iam::{SOURCE}:root", "kms:*", "*")),
    )


def plant_s3(session: Any, clean: dict[str, str]) -> None:
    s3 = session.client("s3")
    s3.create_bucket(Bucket="app-reports")
    s3.put_bucket_policy(
        Bucket="app-reports",
        Policy=policy(
            allow(
                f"arn:aws:iam::{SOURCE}:role/reporting",
                "s3:GetObject",
                "arn:aws:s3:::app-reports/*",
            )
        ),
    )


def plant_sqs(session: Any, clean: dict[str, str]) -> None:
    session.client("sqs").set_queue_attributes(
        QueueUrl=clean["queue"],
        Attributes={
            "Policy": policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": f"arn:aws:sqs:{REGION}:{TARGET}:jobs",
                    # The copied condition still names the source's topic.
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": f"arn:aws:sns:{REGION}:{SOURCE}:orders"}
                    },
                }
            )
        },
    )


def plant_sns(session: Any, clean: dict[str, str]) -> None:
    sns = session.client("sns")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=arn,
        AttributeName="Policy",
        AttributeValue=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "SNS:Publish",
                "Resource": arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": SOURCE}},
            }
        ),
    )


PLANTS: list[tuple[Plant, str, str]] = [
    (plant_ssm, "ssm /app/orders/topic", "ssm /app/orders/topic: value = "),
    (plant_ssm_key, "ssm /app/api/key", "ssm /app/api/key: KeyId = "),
    (plant_stepfunctions, "stepfunctions notify", "definition States.Notify.Parameters.TopicArn"),
    (plant_events_target, "events orders/forward", "events orders/forward: target src Arn"),
    (plant_events_bus_policy, "events default", "events default: policy Statement[0]"),
    (plant_iam, "iam deployer", "iam deployer: trust policy Statement[0].Principal.AWS"),
    (plant_kms, "kms ", ": key policy Statement[0].Principal.AWS"),
    (plant_s3, "s3 app-reports", "s3 app-reports: policy Statement[0].Principal.AWS"),
    (plant_sqs, "sqs jobs", "sqs jobs: Policy Statement[0].Condition.ArnEquals.aws:SourceArn"),
    (
        plant_sns,
        "sns orders",
        "sns orders: Policy Statement[0].Condition.StringEquals.AWS:SourceOwner",
    ),
]


@pytest.mark.parametrize(
    ("plant", "resource", "where"),
    PLANTS,
    ids=[p[0].__name__.removeprefix("plant_") for p in PLANTS],
)
def test_source_id_planted_fails_naming_resource_and_place(
    admin: Any,
    check_context: CheckContext,
    clean: dict[str, str],
    plant: Plant,
    resource: str,
    where: str,
) -> None:
    plant(admin("target"), clean)
    result = run(check_context, "refs.source_account")  # default surfaces: all
    assert result.status == Status.FAIL, text(result)
    assert resource in result.summary
    assert where in text(result)
    # Only the planted resource is named: the clean ones stay out of the findings.
    assert len({(r["service"], r["resource"]) for r in result.evidence["references"]}) == 1


def test_ssm_value_shows_only_the_token_with_the_id(
    admin: Any, check_context: CheckContext, clean: dict[str, str]
) -> None:
    ssm = admin("target").client("ssm")
    ssm.put_parameter(
        Name="/app/config",
        Type="String",
        Value=f'{{"apiKey": "k-93jd8s7", "role": "arn:aws:iam::{SOURCE}:role/app", "pin": "4471"}}',
    )
    ssm.put_parameter(Name="/app/db/secret", Type="String", Value=f"u{SOURCE}:pw-9911")
    result = run(check_context, "refs.source_account", {"surfaces": ["ssm"]})
    assert result.status == Status.FAIL, text(result)
    body = text(result)
    assert f"ssm /app/config: value = ...arn:aws:iam::{SOURCE}:role/app..." in body
    assert "ssm /app/db/secret: value = (value hidden)" in body
    dumped = json.dumps(result.evidence) + body
    for secret in ("k-93jd8s7", "4471", "pw-9911"):
        assert secret not in dumped


def test_allow_list_clears_a_policy_reference(
    admin: Any, check_context: CheckContext, clean: dict[str, str]
) -> None:
    plant_iam(admin("target"), clean)
    result = run(
        check_context,
        "refs.source_account",
        {"surfaces": ["iam"], "allow": ["iam:deployer:trust policy *"]},
    )
    assert result.status == Status.PASS, text(result)
    assert "allowed by `allow`: iam deployer: trust policy Statement[0].Principal.AWS" in text(
        result
    )


def test_a_source_grant_beside_a_replication_grant_still_fails(
    admin: Any, check_context: CheckContext, clean: dict[str, str]
) -> None:
    """Only statements made of replication actions are the expected replication grant."""
    admin("target").client("s3").put_bucket_policy(
        Bucket="app-replica",
        Policy=policy(
            allow(
                f"arn:aws:iam::{SOURCE}:role/s3-replication",
                ["s3:ReplicateObject", "s3:GetObject"],
                "arn:aws:s3:::app-replica/*",
            )
        ),
    )
    result = run(check_context, "refs.source_account", {"surfaces": ["s3"]})
    assert result.status == Status.FAIL, text(result)
    assert "s3 app-replica: policy Statement[0].Principal.AWS" in text(result)


# --- access denied ---------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def deny_json(code: str = "AccessDeniedException") -> Callable[..., AWSResponse]:
    body = json.dumps({"__type": code, "message": "not authorized"}).encode()
    return lambda request, **_: AWSResponse(request.url, 400, {}, _Raw(body))


def deny_s3(request: Any, **_kwargs: Any) -> AWSResponse:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message><RequestId>r</RequestId></Error>"
    )
    return AWSResponse(request.url, 403, {}, _Raw(body))


def test_access_denied_on_one_service_warns_and_names_it(
    check_context: CheckContext, clean: dict[str, str]
) -> None:
    kms = check_context.client("target", "kms")
    kms.meta.events.register("before-send.kms.ListKeys", deny_json())
    result = run(check_context, "refs.source_account", {"surfaces": NEW_SURFACES})
    assert result.status == Status.WARN, text(result)
    assert "not scanned: kms (ListKeys: AccessDeniedException)" in result.summary
    assert "sqs 1" in result.summary  # what was scanned is said too
    assert result.evidence["not_scanned"] == [
        {"service": "kms", "resource": "", "reason": "ListKeys: AccessDeniedException"}
    ]
    assert "kms" not in result.evidence["scanned"]


def test_access_denied_on_one_resource_warns_naming_it_and_scans_the_rest(
    admin: Any, check_context: CheckContext, clean: dict[str, str]
) -> None:
    s3 = check_context.client("target", "s3")

    def deny_assets(request: Any, **kwargs: Any) -> AWSResponse | None:
        return deny_s3(request) if "app-assets" in request.url else None

    s3.meta.events.register("before-send.s3.GetBucketPolicy", deny_assets)
    result = run(check_context, "refs.source_account", {"surfaces": ["s3"]})
    assert result.status == Status.WARN, text(result)
    assert "not scanned: s3 app-assets (GetBucketPolicy: AccessDenied)" in result.summary
    assert result.evidence["scanned"] == {"s3": 1}

    plant_s3(admin("target"), clean)
    failed = run(check_context, "refs.source_account", {"surfaces": ["s3"]})
    # A finding is never hidden by a denial elsewhere; the denial is still said.
    assert failed.status == Status.FAIL, text(failed)
    assert "s3 app-reports" in failed.summary
    assert "not scanned: s3 app-assets" in text(failed)


def test_other_errors_are_not_swallowed(check_context: CheckContext, clean: dict[str, str]) -> None:
    sns = check_context.client("target", "sns")
    stub = Stubber(sns)
    stub.add_client_error("list_topics", service_error_code="InternalError", http_status_code=500)
    with stub, pytest.raises(Exception, match="InternalError"):
        run(check_context, "refs.source_account", {"surfaces": ["sns"]})


# --- IAM trust documents as AWS returns them ----------------------------------------------


def test_trust_policy_url_encoded_as_aws_documents_is_decoded(check_context: CheckContext) -> None:
    """AWS returns AssumeRolePolicyDocument URL-encoded (RFC 3986); Stubber checks the shape."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:role/ci"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = check_context.client("target", "iam")
    stub = Stubber(iam)
    role = {
        "Path": "/",
        "RoleName": "ci-deployer",
        "RoleId": "AROAEXAMPLEEXAMPLE01",
        "Arn": f"arn:aws:iam::{TARGET}:role/ci-deployer",
        "CreateDate": "2026-01-01T00:00:00Z",
        "AssumeRolePolicyDocument": quote(json.dumps(trust), safe=""),
    }
    stub.add_response("list_roles", {"Roles": [role], "IsTruncated": True, "Marker": "m"})
    stub.add_response("list_roles", {"Roles": [], "IsTruncated": False}, {"Marker": "m"})
    with stub:
        result = run(check_context, "refs.source_account", {"surfaces": ["iam"]})
    stub.assert_no_pending_responses()
    assert result.status == Status.FAIL, text(result)
    assert "iam ci-deployer: trust policy Statement[0].Principal.AWS" in text(result)


@pytest.mark.parametrize(
    "raw",
    [
        {"Statement": [{"Principal": {"AWS": "x"}}]},
        json.dumps({"Statement": [{"Principal": {"AWS": "x"}}]}),
        quote(json.dumps({"Statement": [{"Principal": {"AWS": "x"}}]}), safe=""),
    ],
    ids=["decoded", "json", "url-encoded"],
)
def test_policy_documents_load_in_every_shape(raw: Any) -> None:
    from checks.refs.finder import load_policy

    assert load_policy(raw) == {"Statement": [{"Principal": {"AWS": "x"}}]}


def test_ssm_reads_values_ten_names_at_a_time_across_pages(
    admin: Any, check_context: CheckContext
) -> None:
    """GetParameters takes at most 10 names: a reference in the 23rd parameter is found."""
    ssm = admin("target").client("ssm")
    for index in range(22):
        ssm.put_parameter(Name=f"/bulk/p{index:02d}", Type="String", Value=f"v{index}")
    ssm.put_parameter(Name="/bulk/p22", Type="String", Value=f"arn:aws:sqs:{REGION}:{SOURCE}:q")
    calls: list[int] = []
    client = check_context.client("target", "ssm")
    client.meta.events.register(
        "provide-client-params.ssm.GetParameters",
        lambda params, **_: calls.append(len(params["Names"])),
    )
    result = run(check_context, "refs.source_account", {"surfaces": ["ssm"]})
    assert result.status == Status.FAIL, text(result)
    assert "ssm /bulk/p22: value" in text(result)
    assert result.evidence["scanned"] == {"ssm": 23}
    assert sorted(calls) == [3, 10, 10]


def test_kms_reads_customer_managed_keys_only(check_context: CheckContext) -> None:
    """AWS managed and pending-deletion keys are skipped; shapes from the KMS model."""
    kms = check_context.client("target", "kms")
    stub = Stubber(kms)
    keys = {
        "aws-managed": ("AWS", "Enabled"),
        "deleting": ("CUSTOMER", "PendingDeletion"),
        "app": ("CUSTOMER", "Enabled"),
    }
    stub.add_response(
        "list_keys",
        {
            "Keys": [
                {"KeyId": k, "KeyArn": f"arn:aws:kms:{REGION}:{TARGET}:key/{k}"} for k in keys
            ],
            "Truncated": False,
        },
    )
    for key, (manager, state) in keys.items():
        stub.add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": key, "KeyManager": manager, "KeyState": state}},
            {"KeyId": key},
        )
        if key == "app":
            stub.add_response(
                "get_key_policy",
                {"Policy": policy(allow(f"arn:aws:iam::{SOURCE}:role/app", "kms:Decrypt", "*"))},
                {"KeyId": key, "PolicyName": "default"},
            )
    with stub:
        result = run(check_context, "refs.source_account", {"surfaces": ["kms"]})
    stub.assert_no_pending_responses()
    assert result.status == Status.FAIL, text(result)
    assert result.evidence["scanned"] == {"kms": 1}
    assert [r["resource"] for r in result.evidence["references"]] == ["app"]
