"""s3.replication against moto buckets in two accounts.

The source buckets are built through an unguarded admin session, then read
through the guarded one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from runbook.checkapi import CheckContext, Status
from runbook.registry import CheckRegistry
from tests.support.checks import run_check as run
from tests.support.runbooks import SOURCE, TARGET

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
    params = {**PAIR, "existing_objects_copied": True, "no_sse_kms_objects": True}
    result = run(check_context, "s3.replication", params)
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
        stub.add_client_error(
            "get_bucket_encryption",
            "ServerSideEncryptionConfigurationNotFoundError",
            http_status_code=404,
        )
        params = {**PAIR, "existing_objects_copied": True, "no_sse_kms_objects": True}
        result = run(check_context, "s3.replication", params)
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


# --- issue 12: ownership, SSE-KMS, replication metrics ---------------------------------

KMS_KEY = f"arn:aws:kms:us-east-1:{TARGET}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SOURCE_KEY = f"arn:aws:kms:us-east-1:{SOURCE}:key/0987dcba-09fe-87dc-65ba-ab0987654321"


def set_ownership(admin: Any, bucket: str, ownership: str) -> None:
    admin("target").client("s3").put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]}
    )


def set_default_encryption(admin: Any, bucket: str, algorithm: str) -> None:
    default: dict[str, str] = {"SSEAlgorithm": algorithm}
    if algorithm != "AES256":
        default["KMSMasterKeyID"] = SOURCE_KEY
    admin("source").client("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
        },
    )


def test_s3_replication_bucket_owner_enforced_destination_needs_no_owner_override(
    admin: Any, check_context: CheckContext
) -> None:
    """With ACLs disabled on the destination, S3 gives every replica to the bucket owner."""
    rule = good_rule()
    del rule["Destination"]["AccessControlTranslation"]
    build_pair(admin, SRC, DST, rule)
    set_ownership(admin, DST, "BucketOwnerEnforced")
    result = run(check_context, "s3.replication", {**PAIR, "existing_objects_copied": True})
    # Before issue 12 this failed, demanding AccessControlTranslation.
    assert result.status == Status.WARN, result  # only the SSE-KMS caveat (no default encryption)
    assert result.evidence["buckets"][SRC]["problems"] == []
    assert result.evidence["buckets"][SRC]["target_object_ownership"] == "BucketOwnerEnforced"
    assert any("BucketOwnerEnforced" in d and "owned by the target" in d for d in result.details)


@pytest.mark.parametrize("ownership", ["BucketOwnerPreferred", "ObjectWriter", None])
def test_s3_replication_destination_with_acls_still_needs_the_owner_override(
    admin: Any, check_context: CheckContext, ownership: str | None
) -> None:
    rule = good_rule()
    del rule["Destination"]["AccessControlTranslation"]
    build_pair(admin, SRC, DST, rule)
    if ownership is not None:
        set_ownership(admin, DST, ownership)
    result = run(check_context, "s3.replication", PAIR)
    assert result.status == Status.FAIL, result
    (problem,) = result.evidence["buckets"][SRC]["problems"]
    assert "AccessControlTranslation.Owner is not set, not Destination" in problem
    assert f"Object Ownership is {ownership or 'not set (ACLs enabled)'}" in problem


@pytest.mark.parametrize("algorithm", ["aws:kms", "aws:kms:dsse"])
def test_s3_replication_sse_kms_source_without_the_opt_in_fails(
    admin: Any, check_context: CheckContext, algorithm: str
) -> None:
    """S3 skips SSE-KMS objects unless the rule opts in: a default of aws:kms means most."""
    build_pair(admin, SRC, DST, good_rule())
    set_default_encryption(admin, SRC, algorithm)
    result = run(check_context, "s3.replication", {**PAIR, "existing_objects_copied": True})
    # Before issue 12 this passed.
    assert result.status == Status.FAIL, result
    (problem,) = result.evidence["buckets"][SRC]["problems"]
    assert f"source default encryption is {algorithm}" in problem
    assert "SourceSelectionCriteria.SseKmsEncryptedObjects" in problem
    assert "ReplicaKmsKeyID" in problem
    assert result.evidence["buckets"][SRC]["default_encryption"] == algorithm


def test_s3_replication_sse_s3_source_warns_that_sse_kms_uploads_would_be_skipped(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, good_rule())
    set_default_encryption(admin, SRC, "AES256")
    params = {**PAIR, "existing_objects_copied": True}
    result = run(check_context, "s3.replication", params)
    # Before issue 12 this passed: a client may still upload with an SSE-KMS header.
    assert result.status == Status.WARN, result
    assert "may skip SSE-KMS objects" in result.summary
    assert any(
        "AES256" in d and "objects uploaded with SSE-KMS would not replicate" in d
        for d in result.details
    )
    confirmed = run(check_context, "s3.replication", {**params, "no_sse_kms_objects": True})
    assert confirmed.status == Status.PASS, confirmed
    assert any("SSE-KMS objects: none, as confirmed in the runbook" in d for d in confirmed.details)


def kms_rule(key: str = KMS_KEY) -> dict[str, Any]:
    rule = good_rule()
    rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    rule["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": key}
    return rule


def stub_source_reads(stub: Stubber, rule: dict[str, Any], algorithm: str) -> None:
    """The source's versioning, replication and default encryption, as S3 answers them.

    moto drops SourceSelectionCriteria from replication rules, so these are stubbed.
    """
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": SRC})
    config = {"Role": f"arn:aws:iam::{SOURCE}:role/s3-replication", "Rules": [rule]}
    stub.add_response(
        "get_bucket_replication", {"ReplicationConfiguration": config}, {"Bucket": SRC}
    )
    stub.add_response(
        "get_bucket_encryption",
        {
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": algorithm,
                            "KMSMasterKeyID": SOURCE_KEY,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            }
        },
        {"Bucket": SRC},
    )


def test_s3_replication_sse_kms_source_with_the_opt_in_passes(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, None)
    with Stubber(check_context.client("source", "s3")) as stub:
        stub_source_reads(stub, kms_rule(), "aws:kms")
        result = run(check_context, "s3.replication", {**PAIR, "existing_objects_copied": True})
        stub.assert_no_pending_responses()
    assert result.status == Status.PASS, result
    assert result.evidence["buckets"][SRC]["sse_kms_replicated"] is True
    assert any(
        f"SSE-KMS objects replicate, re-encrypted with {KMS_KEY}" in d for d in result.details
    )


def test_s3_replication_replica_key_in_the_source_account_warns(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, None)
    with Stubber(check_context.client("source", "s3")) as stub:
        stub_source_reads(stub, kms_rule(SOURCE_KEY), "aws:kms")
        result = run(check_context, "s3.replication", {**PAIR, "existing_objects_copied": True})
    assert result.status == Status.WARN, result
    assert any(
        f"replicas are encrypted with a key in account {SOURCE}" in d for d in result.details
    )


def metrics_rule() -> dict[str, Any]:
    rule = good_rule()
    rule["Destination"]["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    rule["Destination"]["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
    return rule


def stub_metrics(stub: Stubber, failed: list[float], latency: list[float]) -> None:
    dims = [
        {"Name": "SourceBucket", "Value": SRC},
        {"Name": "DestinationBucket", "Value": DST},
        {"Name": "RuleId", "Value": "to-target"},
    ]

    def query(qid: str, name: str, stat: str) -> dict[str, Any]:
        metric = {"Namespace": "AWS/S3", "MetricName": name, "Dimensions": dims}
        return {"Id": qid, "MetricStat": {"Metric": metric, "Period": 300, "Stat": stat}}

    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {
                    "Id": qid,
                    "Label": qid,
                    "Timestamps": [now - timedelta(minutes=5 * i) for i in range(len(values))],
                    "Values": values,
                    "StatusCode": "Complete",
                }
                for qid, values in (("failed", failed), ("latency", latency))
            ]
        },
        {
            "MetricDataQueries": [
                query("failed", "OperationsFailedReplication", "Sum"),
                query("latency", "ReplicationLatency", "Maximum"),
            ],
            "StartTime": ANY,
            "EndTime": ANY,
        },
    )


def test_s3_replication_failed_operations_fail_the_gate(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, metrics_rule())
    set_default_encryption(admin, SRC, "AES256")
    params = {**PAIR, "existing_objects_copied": True, "no_sse_kms_objects": True}
    with Stubber(check_context.client("source", "cloudwatch")) as stub:
        stub_metrics(stub, failed=[0.0, 3.0, 1.0], latency=[12.0, 40.0, 7.0])
        result = run(check_context, "s3.replication", params)
        stub.assert_no_pending_responses()
    assert result.status == Status.FAIL, result
    metrics = result.evidence["buckets"][SRC]["metrics"]
    assert metrics["operations_failed"] == 4.0
    assert metrics["latency_max_seconds"] == 40.0
    assert any(
        "4 operations failed to replicate in the last 60 minutes" in p
        for p in result.evidence["buckets"][SRC]["problems"]
    )


def test_s3_replication_metrics_are_reported_when_nothing_failed(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, metrics_rule())
    set_default_encryption(admin, SRC, "AES256")
    params = {**PAIR, "existing_objects_copied": True, "no_sse_kms_objects": True}
    with Stubber(check_context.client("source", "cloudwatch")) as stub:
        stub_metrics(stub, failed=[0.0, 0.0], latency=[12.0, 40.0])
        result = run(check_context, "s3.replication", params)
    assert result.status == Status.PASS, result
    assert any(
        "no failed replication in the last 60 minutes; latency up to 40.0s" in d
        for d in result.details
    )


def test_s3_replication_metrics_off_reads_no_metrics(
    admin: Any, check_context: CheckContext
) -> None:
    build_pair(admin, SRC, DST, good_rule())
    set_default_encryption(admin, SRC, "AES256")
    params = {**PAIR, "existing_objects_copied": True, "no_sse_kms_objects": True}
    with Stubber(check_context.client("source", "cloudwatch")):  # any call would raise
        result = run(check_context, "s3.replication", params)
    assert result.status == Status.PASS, result
    assert result.evidence["buckets"][SRC]["metrics"] is None
    assert any("replication metrics are off" in d for d in result.details)
