"""s3.replication against moto buckets in two accounts.

The source buckets are built through an unguarded admin session, then read
through the guarded one.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

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
