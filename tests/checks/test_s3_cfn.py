"""s3.replication, cfn.stacks and cfn.drift against moto in two accounts.

Buckets and stacks are real moto resources (the source ones built through an
unguarded admin session, then read through the guarded one). moto has no
drift detection, so cfn.drift runs on the guarded source client under
botocore's Stubber with real response shapes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from moto.cloudformation.models import cloudformation_backends

from runbook.checkapi import CheckContext, Status
from runbook.registry import CheckRegistry
from tests.helpers import REGION, SOURCE, TARGET
from tests.helpers import run_check as run

# --- s3.replication ---------------------------------------------------------------------

SRC, DST = "orders-src", "orders-dst"
PAIR = {"buckets": [{"source_bucket": SRC, "target_bucket": DST}]}


def good_rule(dst: str = DST) -> dict[str, Any]:
    return {
        "ID": "to-target",
        "Priority": 1,
        "Filter": {},
        "Status": "Enabled",
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {
            "Bucket": f"arn:aws:s3:::{dst}",
            "Account": TARGET,
            "AccessControlTranslation": {"Owner": "Destination"},
        },
    }


def build_pair(
    admin: Any,
    src: str,
    dst: str,
    rule: dict[str, Any] | None,
    *,
    source_versioning: str = "Enabled",
    target_versioning: str | None = "Enabled",
    target_exists: bool = True,
) -> dict[str, str]:
    s3 = admin("source").client("s3")
    s3.create_bucket(Bucket=src)
    s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    if rule is not None:
        s3.put_bucket_replication(
            Bucket=src,
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{SOURCE}:role/s3-replication",
                "Rules": [rule],
            },
        )
    if source_versioning != "Enabled":
        # Suspended after the rule was written, as happens when someone "tidies up".
        s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": source_versioning})
    if target_exists:
        t3 = admin("target").client("s3")
        t3.create_bucket(Bucket=dst)
        if target_versioning is not None:
            t3.put_bucket_versioning(
                Bucket=dst, VersioningConfiguration={"Status": target_versioning}
            )
    return {"source_bucket": src, "target_bucket": dst}


def test_s3_replication_correct_is_warn_with_the_batch_replication_reminder(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, good_rule())
    result = run(check_context, "s3.replication", PAIR)
    assert result.status == Status.WARN, result
    assert "S3 Batch Replication" in result.summary
    assert any("existed need S3 Batch Replication" in d for d in result.details)
    assert f"{SRC} -> {DST}: rule to-target replicates to the target account" in result.details


def test_s3_replication_passes_once_existing_objects_are_confirmed(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, good_rule())
    result = run(check_context, "s3.replication", {**PAIR, "existing_objects_copied": True})
    assert result.status == Status.PASS, result
    assert "existing objects: copied, as confirmed in the runbook" in result.details


def test_s3_replication_each_defect_fails_and_is_named_per_bucket(
    admin: Any, check_context: CheckContext
) -> None:
    """One world, one pair per defect: every pair must be reported with its own problem."""
    pairs: list[dict[str, str]] = []
    expected: dict[str, str] = {}

    def case(name: str, problem: str, edit: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """A pair whose rule is the good one changed by `edit` (None values delete keys)."""
        src, dst = f"{name}-src", f"{name}-dst"
        rule: dict[str, Any] | None = good_rule(dst)
        for key, value in (edit or {}).items():
            assert rule is not None
            node = rule if key == "Status" else rule["Destination"]
            if value is None:
                node.pop(key)
            else:
                node[key] = value
        if kwargs.pop("no_rule", False):
            rule = None
        pairs.append(build_pair(admin, src, dst, rule, **kwargs))
        expected[src] = problem

    pairs.append(build_pair(admin, "fine-src", "fine-dst", good_rule("fine-dst")))
    case("off", "rule to-target: status is Disabled, not Enabled", {"Status": "Disabled"})
    case(
        "elsewhere",
        "no replication rule writes to arn:aws:s3:::elsewhere-dst",
        {"Bucket": "arn:aws:s3:::somewhere-else"},
    )
    case(
        "noaccount",
        f"rule to-target: Destination.Account is not set, not {TARGET}",
        {"Account": None, "AccessControlTranslation": None},  # S3 wants both or neither
    )
    case(
        "wrongaccount",
        f"rule to-target: Destination.Account is {SOURCE}, not {TARGET}",
        {"Account": SOURCE},
    )
    case(
        "owner",
        "rule to-target: AccessControlTranslation.Owner is not set, not Destination",
        {"AccessControlTranslation": None},
    )
    case("norule", "no replication configuration on the source bucket", no_rule=True)
    case("srcver", "source versioning is Suspended, must be Enabled", source_versioning="Suspended")
    case("dstver", "target versioning is never enabled, must be Enabled", target_versioning=None)
    case("nodst", "target bucket nodst-dst does not exist", target_exists=False)
    pairs.append({"source_bucket": "nosrc-src", "target_bucket": "fine-dst"})
    expected["nosrc-src"] = "source bucket nosrc-src does not exist"

    result = run(check_context, "s3.replication", {"buckets": pairs})
    assert result.status == Status.FAIL, result
    assert result.summary.startswith(f"replication not ready for {len(expected)} of {len(pairs)}")
    assert "fine-src" not in result.summary
    buckets = result.evidence["buckets"]
    assert buckets["fine-src"]["problems"] == []
    for src, problem in expected.items():
        assert src in result.summary
        assert any(problem in p for p in buckets[src]["problems"]), (src, buckets[src])
        assert any(d.startswith(f"{src} -> ") and problem in d for d in result.details)


def test_s3_replication_filtered_rule_warns_about_what_it_leaves_behind(
    admin: Any, check_context: CheckContext
) -> None:
    # moto drops replication filters (it always answers Prefix ""), so the source's two
    # reads are stubbed here; the target bucket is real.
    build_pair(admin, SRC, DST, None)
    rule = good_rule()
    rule["Filter"] = {"And": {"Prefix": "invoices/", "Tags": [{"Key": "keep", "Value": "yes"}]}}
    with Stubber(check_context.client("source", "s3")) as stub:
        stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": SRC})
        stub.add_response(
            "get_bucket_replication",
            {
                "ReplicationConfiguration": {
                    "Role": f"arn:aws:iam::{SOURCE}:role/s3-replication",
                    "Rules": [rule],
                }
            },
            {"Bucket": SRC},
        )
        result = run(check_context, "s3.replication", {**PAIR, "existing_objects_copied": True})
        stub.assert_no_pending_responses()
    assert result.status == Status.WARN, result
    assert "1 only partly" in result.summary
    assert any("replicates only prefix 'invoices/' with tags keep=yes" in d for d in result.details)


def test_s3_replication_params_are_validated() -> None:
    model = CheckRegistry.discover(plugins=False).get("s3.replication").params_model
    with pytest.raises(ValueError):
        model.model_validate({"buckets": []})
    with pytest.raises(ValueError):
        model.model_validate({"buckets": [{"source_bucket": "Bad_Name", "target_bucket": DST}]})


# --- cfn.stacks -------------------------------------------------------------------------

TEMPLATE = json.dumps(
    {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}}}
)


def create_stack(admin: Any, name: str, status: str | None = None) -> None:
    """A real moto stack; `status` forces a state moto never reaches by itself (rollbacks)."""
    stack_id = (
        admin("target")
        .client("cloudformation")
        .create_stack(StackName=name, TemplateBody=TEMPLATE)["StackId"]
    )
    if status is not None:
        cloudformation_backends[TARGET][REGION].stacks[stack_id].status = status


def test_cfn_stacks_completed_pass(admin: Any, check_context: CheckContext) -> None:
    create_stack(admin, "network")
    create_stack(admin, "app")
    updated = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    admin("target").client("cloudformation").update_stack(
        StackName="app", TemplateBody=json.dumps(updated)
    )
    create_stack(admin, "imported", "IMPORT_COMPLETE")
    result = run(check_context, "cfn.stacks")
    assert result.status == Status.PASS, result
    assert result.evidence["stacks"] == {
        "network": "CREATE_COMPLETE",
        "app": "UPDATE_COMPLETE",
        "imported": "IMPORT_COMPLETE",
    }
    named = run(check_context, "cfn.stacks", {"stacks": ["app"]})
    assert named.status == Status.PASS, named
    assert named.evidence["stacks"] == {"app": "UPDATE_COMPLETE"}


def test_cfn_stacks_rollback_failed_or_unsettled_fail_each_named_with_its_meaning(
    admin: Any, check_context: CheckContext
) -> None:
    create_stack(admin, "network")
    bad = {
        "app": ("ROLLBACK_COMPLETE", "delete the stack and create it again"),
        "data": ("UPDATE_ROLLBACK_COMPLETE", "the stack runs the previous template"),
        "edge": ("UPDATE_IN_PROGRESS", "still in progress"),
        "jobs": ("CREATE_FAILED", "see the stack events"),
        "auth": ("IMPORT_ROLLBACK_COMPLETE", "the stack runs the previous template"),
    }
    for name, (status, _) in bad.items():
        create_stack(admin, name, status)
    result = run(check_context, "cfn.stacks")
    assert result.status == Status.FAIL, result
    assert result.summary.startswith("5 of 6 stacks not deployed: ")
    assert "network" not in result.summary
    for name, (status, hint) in bad.items():
        assert name in result.summary
        line = next(d for d in result.details if d.startswith(f"{name}: "))
        assert line.startswith(f"{name}: {status} - ") and hint in line, line
    # Problems first, the good stack last.
    assert result.details[-1] == "network: CREATE_COMPLETE"


def test_cfn_stacks_named_stack_missing_fails(admin: Any, check_context: CheckContext) -> None:
    create_stack(admin, "network")
    result = run(check_context, "cfn.stacks", {"stacks": ["network", "data"]})
    assert result.status == Status.FAIL, result
    assert "data" in result.summary and "network" not in result.summary
    assert "data: does not exist in the target" in result.details


def test_cfn_stacks_empty_target_fails(check_context: CheckContext) -> None:
    result = run(check_context, "cfn.stacks")
    assert result.status == Status.FAIL, result
    assert "no CloudFormation stacks" in result.summary


# --- cfn.drift (Stubber: moto has no drift detection) ----------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stack_id(name: str) -> str:
    return (
        f"arn:aws:cloudformation:{REGION}:{SOURCE}:stack/{name}/0a1b2c3d-0000-4000-8000-{name:0>12}"
    )


def detection(name: str, state: str, drift: str | None = None, count: int = 0) -> dict[str, Any]:
    response: dict[str, Any] = {
        "StackId": stack_id(name),
        "StackDriftDetectionId": f"det-{name}",
        "DetectionStatus": state,
        "Timestamp": T0,
    }
    if drift is not None:
        response["StackDriftStatus"] = drift
        response["DriftedStackResourceCount"] = count
    return response


@pytest.fixture
def cfn_stub(check_context: CheckContext) -> Iterator[Stubber]:
    # The guarded source client itself: proves every call is on the read-only allowlist.
    stubber = Stubber(check_context.client("source", "cloudformation"))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def expect_detect(stub: Stubber, name: str) -> None:
    stub.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": f"det-{name}"}, {"StackName": name}
    )


def expect_status(stub: Stubber, name: str, response: dict[str, Any]) -> None:
    stub.add_response(
        "describe_stack_drift_detection_status", response, {"StackDriftDetectionId": f"det-{name}"}
    )


FAST = {"poll_delay_s": 0, "deadline_s": 60}


def test_cfn_drift_lists_drifted_resources_and_property_differences(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    expect_detect(cfn_stub, "app")
    expect_detect(cfn_stub, "data")
    expect_status(cfn_stub, "app", detection("app", "DETECTION_IN_PROGRESS"))
    expect_status(cfn_stub, "data", detection("data", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "DRIFTED", 2))
    cfn_stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": stack_id("app"),
                    "LogicalResourceId": "OrdersTable",
                    "PhysicalResourceId": "orders-prod",
                    "ResourceType": "AWS::DynamoDB::Table",
                    "ExpectedProperties": '{"BillingMode":"PROVISIONED"}',
                    "ActualProperties": '{"BillingMode":"PAY_PER_REQUEST"}',
                    "PropertyDifferences": [
                        {
                            "PropertyPath": "/BillingMode",
                            "ExpectedValue": "PROVISIONED",
                            "ActualValue": "PAY_PER_REQUEST",
                            "DifferenceType": "NOT_EQUAL",
                        },
                        {
                            "PropertyPath": "/Tags/0",
                            "ExpectedValue": "null",
                            "ActualValue": '{"Key":"owner","Value":"ops"}',
                            "DifferenceType": "ADD",
                        },
                    ],
                    "StackResourceDriftStatus": "MODIFIED",
                    "Timestamp": T0,
                }
            ],
            "NextToken": "page-2",
        },
        {"StackName": "app", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    cfn_stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": stack_id("app"),
                    "LogicalResourceId": "UploadsBucket",
                    "PhysicalResourceId": "uploads-prod",
                    "ResourceType": "AWS::S3::Bucket",
                    "StackResourceDriftStatus": "DELETED",
                    "Timestamp": T0,
                }
            ]
        },
        {
            "StackName": "app",
            "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
            "NextToken": "page-2",
        },
    )
    result = run(check_context, "cfn.drift", {"stacks": ["app", "data"], **FAST})
    assert result.status == Status.WARN, result
    assert result.summary.startswith("1 source stacks drifted (2 resources): app;")
    assert "data" not in result.summary
    assert "app: AWS::DynamoDB::Table OrdersTable (orders-prod) MODIFIED" in result.details
    assert "  /BillingMode: NOT_EQUAL expected PROVISIONED actual PAY_PER_REQUEST" in result.details
    assert "app: AWS::S3::Bucket UploadsBucket (uploads-prod) DELETED" in result.details
    app = result.evidence["stacks"]["app"]
    assert app["resources"][0]["differences"][1] == {
        "path": "/Tags/0",
        "expected": "null",
        "actual": '{"Key":"owner","Value":"ops"}',
        "type": "ADD",
    }
    assert result.evidence["in_sync"] == ["data"]
    json.dumps(result.evidence)  # serialisable


def test_cfn_drift_all_in_sync_passes_and_finds_stacks_itself(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    cfn_stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": stack_id(name),
                    "StackName": name,
                    "CreationTime": T0,
                    "StackStatus": status,
                }
                for name, status in (
                    ("network", "CREATE_COMPLETE"),
                    ("app", "UPDATE_ROLLBACK_COMPLETE"),
                    ("old", "ROLLBACK_COMPLETE"),
                )
            ]
        },
        {},
    )
    expect_detect(cfn_stub, "network")
    expect_detect(cfn_stub, "app")
    expect_status(cfn_stub, "network", detection("network", "DETECTION_COMPLETE", "IN_SYNC"))
    expect_status(cfn_stub, "app", detection("app", "DETECTION_COMPLETE", "IN_SYNC"))
    result = run(check_context, "cfn.drift", {"stacks": [], **FAST})
    # ROLLBACK_COMPLETE cannot be drift-checked: said so, and not called in sync.
    assert result.status == Status.WARN, result
    assert "old" in result.summary
    assert result.evidence["in_sync"] == ["network", "app"]


def test_cfn_drift_in_sync_passes(check_context: CheckContext, cfn_stub: Stubber) -> None:
    expect_detect(cfn_stub, "network")
    expect_status(cfn_stub, "network", detection("network", "DETECTION_COMPLETE", "IN_SYNC"))
    result = run(check_context, "cfn.drift", {"stacks": ["network"], **FAST})
    assert result.status == Status.PASS, result
    assert result.summary == "1 source stacks IN_SYNC with their templates"


def test_cfn_drift_deadline_reports_undetermined_not_in_sync(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    ticks = iter(T0 + timedelta(seconds=10 * i) for i in range(100))
    ctx = dataclasses.replace(check_context, now=lambda: next(ticks))
    expect_detect(cfn_stub, "app")
    # deadline 15 s at 10 s per clock read: two polls, both still running.
    expect_status(cfn_stub, "app", detection("app", "DETECTION_IN_PROGRESS"))
    expect_status(cfn_stub, "app", detection("app", "DETECTION_IN_PROGRESS"))
    result = run(ctx, "cfn.drift", {"stacks": ["app"], "poll_delay_s": 0, "deadline_s": 15})
    assert result.status == Status.WARN, result
    assert result.summary == "drift not determined for 1 stacks: app"
    assert "app: not determined: detection still running after 15s" in result.details


def test_cfn_drift_failed_detection_and_missing_stack_are_not_in_sync(
    check_context: CheckContext, cfn_stub: Stubber
) -> None:
    cfn_stub.add_client_error(
        "detect_stack_drift",
        service_error_code="ValidationError",
        service_message="Stack with id gone does not exist",
        http_status_code=400,
        expected_params={"StackName": "gone"},
    )
    expect_detect(cfn_stub, "app")
    failed = detection("app", "DETECTION_FAILED", "IN_SYNC")
    failed["DetectionStatusReason"] = "Failed to detect drift on resource [Fn]"
    expect_status(cfn_stub, "app", failed)
    result = run(check_context, "cfn.drift", {"stacks": ["gone", "app"], **FAST})
    assert result.status == Status.WARN, result
    assert "gone: not determined: Stack with id gone does not exist" in result.details
    assert (
        "app: not determined: detection failed: Failed to detect drift on resource [Fn]"
        in result.details
    )
    assert result.evidence["in_sync"] == []


def test_cfn_drift_skipped_in_the_emulator(check_context: CheckContext, cfn_stub: Stubber) -> None:
    ctx = dataclasses.replace(check_context, emulated=True)
    result = run(ctx, "cfn.drift", {"stacks": ["app"]})
    assert result.status == Status.SKIPPED, result
    assert "no CloudFormation drift detection" in result.summary


def test_cfn_drift_is_advisory_and_reads_the_source() -> None:
    meta = CheckRegistry.discover(plugins=False).get("cfn.drift").meta
    assert meta.blocking is False
    assert meta.account == "source"
