"""Resource policies in the target that name the source account: one function per service.

Not a check. A source account ID in a copied policy (a principal, an
`aws:SourceAccount`/`aws:SourceArn` condition) lets the source in and keeps the
target's own principals out: it works until the source is switched off.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from checks.refs.finder import Finder
from runbook.aws.errors import error_code
from runbook.checkapi import CheckContext

# What a destination bucket grants the source's replication role (AWS's cross-account
# replication walkthrough): expected until the source is retired, never a dependency.
_REPLICATION_ACTIONS = frozenset(
    a.lower()
    for a in (
        "s3:ReplicateObject",
        "s3:ReplicateDelete",
        "s3:ReplicateTags",
        "s3:ObjectOwnerOverrideToBucketOwner",
        "s3:GetObjectVersionTagging",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:List*",
        "s3:ListBucket",
    )
)
REPLICATION_GRANT = "S3 replication from the source (remove once the source is retired)"

# Documents among SQS queue / SNS topic attributes; the other attributes are plain values.
_DOCUMENTS = frozenset(
    {
        "Policy",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "DeliveryPolicy",
        "EffectiveDeliveryPolicy",
        "DataProtectionPolicy",
    }
)


def replication_grant(statement: dict[str, Any]) -> str:
    """REPLICATION_GRANT if the statement only allows replicating into the bucket, else ""."""
    if statement.get("Effect") != "Allow" or "NotAction" in statement:
        return ""
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions
    if not isinstance(actions, list) or not actions:
        return ""
    if all(isinstance(a, str) and a.lower() in _REPLICATION_ACTIONS for a in actions):
        return REPLICATION_GRANT
    return ""


def scan_iam(ctx: CheckContext, finder: Finder) -> None:
    """Role trust policies: the resource policy of a role (who may assume it)."""
    client = ctx.client("target", "iam")
    for page in client.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            finder.count("iam")
            # URL-encoded on the wire; botocore decodes it for IAM, load_policy either way.
            finder.scan_document(
                "iam", role["RoleName"], "trust policy", role.get("AssumeRolePolicyDocument")
            )


def scan_kms(ctx: CheckContext, finder: Finder) -> None:
    """Key policies of customer managed keys (AWS managed keys' policies are AWS's)."""
    client = ctx.client("target", "kms")
    for page in client.get_paginator("list_keys").paginate():
        for key in page.get("Keys", []):
            key_id = key["KeyId"]
            with finder.reading("kms", key_id):
                meta = client.describe_key(KeyId=key_id)["KeyMetadata"]
                if meta.get("KeyManager") != "CUSTOMER":
                    continue
                if meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
                    continue  # cannot be used: nothing depends on its policy
                # "default" is the only key policy name KMS has.
                policy = client.get_key_policy(KeyId=key_id, PolicyName="default").get("Policy")
                finder.count("kms")
                finder.scan_document("kms", key_id, "key policy", policy)


def scan_s3(ctx: CheckContext, finder: Finder) -> None:
    client = ctx.client("target", "s3")
    for page in client.get_paginator("list_buckets").paginate():
        for bucket in page.get("Buckets", []):
            name = bucket["Name"]
            with finder.reading("s3", name):
                try:
                    policy = client.get_bucket_policy(Bucket=name).get("Policy")
                except ClientError as exc:
                    if error_code(exc) != "NoSuchBucketPolicy":
                        raise
                    policy = None  # no policy: nothing to name the source
                finder.count("s3")
                if policy:
                    finder.scan_document("s3", name, "policy", policy, expected=replication_grant)


def _scan_attributes(finder: Finder, service: str, name: str, attributes: dict[str, str]) -> None:
    for attribute, value in attributes.items():
        if attribute in _DOCUMENTS:
            finder.scan_document(service, name, attribute, value)
        else:
            finder.scan(service, name, attribute, value, reference=True)


def scan_sqs(ctx: CheckContext, finder: Finder) -> None:
    """Queue policies, and the redrive (dead-letter) queue and KMS key attributes."""
    client = ctx.client("target", "sqs")
    # Without MaxResults, ListQueues returns at most 1,000 queues and no NextToken.
    pages = client.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 1000})
    for page in pages:
        for url in page.get("QueueUrls", []):
            name = url.rstrip("/").rsplit("/", 1)[-1]
            with finder.reading("sqs", name):
                attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
                finder.count("sqs")
                _scan_attributes(finder, "sqs", name, attributes.get("Attributes") or {})


def scan_sns(ctx: CheckContext, finder: Finder) -> None:
    """Topic policies, and the KMS key and delivery-status role attributes."""
    client = ctx.client("target", "sns")
    for page in client.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = topic["TopicArn"]
            name = arn.rsplit(":", 1)[-1]
            with finder.reading("sns", name):
                attributes = client.get_topic_attributes(TopicArn=arn)
                finder.count("sns")
                _scan_attributes(finder, "sns", name, attributes.get("Attributes") or {})
