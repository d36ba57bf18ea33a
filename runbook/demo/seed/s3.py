"""S3: versioned source buckets replicating to the target account's buckets.

The target buckets disable ACLs (Object Ownership BucketOwnerEnforced), so every
replica belongs to the target account without an owner override in the rule.
The source encrypts with SSE-S3 by default and the seeded objects carry no
SSE-KMS header (the demo runbook states it). Replication metrics are on.
"""

from __future__ import annotations

import json

from runbook.demo.model import S3_ROLE_ARN, DemoWorld


def _replication_policy(target_bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReplicationFromSource",
                    "Effect": "Allow",
                    "Principal": {"AWS": S3_ROLE_ARN},
                    "Action": ["s3:ReplicateObject", "s3:ReplicateDelete"],
                    "Resource": f"arn:aws:s3:::{target_bucket}/*",
                }
            ],
        }
    )


def seed_buckets(world: DemoWorld) -> None:
    source = world.client("source", "s3")
    target = world.client("target", "s3")
    location = {"LocationConstraint": world.region}
    for source_bucket, target_bucket in world.bucket_pairs:
        target.create_bucket(Bucket=target_bucket, CreateBucketConfiguration=location)
        target.put_bucket_versioning(
            Bucket=target_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        target.put_bucket_ownership_controls(
            Bucket=target_bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        )
        target.put_bucket_policy(Bucket=target_bucket, Policy=_replication_policy(target_bucket))
        source.create_bucket(Bucket=source_bucket, CreateBucketConfiguration=location)
        source.put_bucket_versioning(
            Bucket=source_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        source.put_bucket_encryption(
            Bucket=source_bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
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
                            "Metrics": {"Status": "Enabled"},
                        },
                    }
                ],
            },
        )
        # Written after the rule, so live replication covers them.
        for name in ("2026/05/report.csv", "2026/05/avatar.png"):
            source.put_object(Bucket=source_bucket, Key=name, Body=b"demo")
