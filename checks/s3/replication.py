"""s3.replication: each source bucket replicates live into its target bucket.

Read in the source (guarded): the bucket's versioning and replication rules.
Read in the target: the destination's versioning (replication needs it on both
sides). A good rule is Enabled, writes to the target bucket's ARN, names the
target account and hands ownership of the replicas to it
(`AccessControlTranslation.Owner = Destination`), or the target cannot read
what lands in its own bucket.

Live replication never copies objects that existed before the rule: those
need S3 Batch Replication (or a one-off copy). The check cannot see whether
that was done, so a correct configuration is a `warn` carrying that reminder
until the runbook sets `existing_objects_copied = true`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
BATCH_NOTE = (
    "live replication copies only objects written after the rule was enabled: objects that "
    "already existed need S3 Batch Replication (a Batch Operations replicate job) or a one-off "
    "copy; once done (or the bucket was empty), set existing_objects_copied = true"
)


class BucketPair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_bucket: str = Field(pattern=BUCKET, description="Bucket in the source account.")
    target_bucket: str = Field(pattern=BUCKET, description="Its replica in the target account.")


class ReplicationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    buckets: tuple[BucketPair, ...] = Field(
        min_length=1, description="Each {source_bucket, target_bucket} pair to verify."
    )
    existing_objects_copied: bool = Field(
        default=False,
        description=(
            "The operator confirms pre-existing objects were copied (S3 Batch Replication) or "
            "there were none; until then a correct setup is reported as warn."
        ),
    )


def rule_scope(rule: dict[str, Any]) -> str | None:
    """What the rule's filter limits it to, or None when it replicates the whole bucket."""
    flt = rule.get("Filter") or {}
    both = flt.get("And") or {}
    prefix = rule.get("Prefix") or flt.get("Prefix") or both.get("Prefix")  # Prefix: V1 rule
    tags = ([flt["Tag"]] if flt.get("Tag") else []) + list(both.get("Tags", []))
    parts = [f"prefix {prefix!r}"] if prefix else []
    if tags:
        parts.append("tags " + ", ".join(f"{t.get('Key')}={t.get('Value')}" for t in tags))
    return " with ".join(parts) or None


def rule_problems(rule: dict[str, Any], target_account: str) -> list[str]:
    dest = rule.get("Destination") or {}
    problems = []
    if rule.get("Status") != "Enabled":
        problems.append(f"status is {rule.get('Status')}, not Enabled")
    if dest.get("Account") != target_account:
        problems.append(
            f"Destination.Account is {dest.get('Account') or 'not set'}, not {target_account}"
        )
    owner = (dest.get("AccessControlTranslation") or {}).get("Owner")
    if owner != "Destination":
        problems.append(
            f"AccessControlTranslation.Owner is {owner or 'not set'}, not Destination "
            "(replicas would stay owned by the source account)"
        )
    return problems


class ReplicationCheck(Check[ReplicationParams]):
    meta = CheckMeta(
        id="s3.replication",
        title="S3 buckets replicate live into the target account",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=(
            "s3:GetBucketVersioning",
            "s3:GetReplicationConfiguration",
        ),
        remediation=(
            "On the source bucket: enable versioning and add an Enabled replication rule to "
            "arn:aws:s3:::<target bucket> with Account = <target id> and "
            "AccessControlTranslation Owner = Destination (the destination bucket policy must "
            "allow the replication role, including s3:ObjectOwnerOverrideToBucketOwner). Enable "
            "versioning on the target bucket. Then copy the objects that predate the rule with "
            "S3 Batch Replication."
        ),
    )
    params_model = ReplicationParams

    def run(self, ctx: CheckContext, params: ReplicationParams) -> CheckResult:
        source_s3 = ctx.client("source", "s3")
        target_s3 = ctx.client("target", "s3")
        target_id = ctx.runbook.accounts.target.account_id

        details: list[str] = []
        pairs: dict[str, Any] = {}
        failed: list[str] = []
        notes = 0
        for pair in params.buckets:
            src, dst = pair.source_bucket, pair.target_bucket
            problems, scope, rule_id = self._pair(source_s3, target_s3, src, dst, target_id)
            pairs[src] = {
                "target_bucket": dst,
                "problems": problems,
                "rule": rule_id,
                "scope": scope,
            }
            if problems:
                failed.append(src)
                details.extend(f"{src} -> {dst}: {p}" for p in problems)
                continue
            details.append(f"{src} -> {dst}: rule {rule_id} replicates to the target account")
            if scope is not None:
                notes += 1
                details.append(
                    f"{src} -> {dst}: rule {rule_id} replicates only {scope}; objects outside "
                    "it will not reach the target"
                )

        if params.existing_objects_copied:
            details.append("existing objects: copied, as confirmed in the runbook")
        else:
            details.append(f"reminder: {BATCH_NOTE}")
        evidence: dict[str, Any] = {
            "buckets": pairs,
            "existing_objects_copied": params.existing_objects_copied,
        }

        n = len(params.buckets)
        if failed:
            return CheckResult.failed(
                f"replication not ready for {len(failed)} of {n} buckets: {', '.join(failed)}",
                details,
                **evidence,
            )
        if notes:
            return CheckResult.warned(
                f"{n} buckets replicate, {notes} only partly (filtered rules); see details",
                details,
                **evidence,
            )
        if not params.existing_objects_copied:
            return CheckResult.warned(
                f"{n} buckets replicate live; objects older than the rule still need "
                "S3 Batch Replication",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"{n} buckets replicate live and existing objects were copied", details, **evidence
        )

    @staticmethod
    def _pair(
        source_s3: Any, target_s3: Any, src: str, dst: str, target_id: str
    ) -> tuple[list[str], str | None, str | None]:
        """(problems, partial scope of the rule used, id of the rule used)."""
        problems: list[str] = []
        try:
            status = source_s3.get_bucket_versioning(Bucket=src).get("Status")
            if status != "Enabled":
                problems.append(
                    f"source versioning is {status or 'never enabled'}, must be Enabled"
                )
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
            return [f"source bucket {src} does not exist"], None, None

        try:
            status = target_s3.get_bucket_versioning(Bucket=dst).get("Status")
            if status != "Enabled":
                problems.append(
                    f"target versioning is {status or 'never enabled'}, must be Enabled"
                )
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
            problems.append(f"target bucket {dst} does not exist")

        try:
            config = source_s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "ReplicationConfigurationNotFoundError":
                raise
            return [*problems, "no replication configuration on the source bucket"], None, None

        dest_arn = f"arn:aws:s3:::{dst}"
        rules = config.get("Rules", [])
        candidates = [r for r in rules if (r.get("Destination") or {}).get("Bucket") == dest_arn]
        if not candidates:
            elsewhere = sorted({(r.get("Destination") or {}).get("Bucket", "?") for r in rules})
            problems.append(
                f"no replication rule writes to {dest_arn} (rules go to: "
                f"{', '.join(elsewhere) or 'nothing'})"
            )
            return problems, None, None

        # Prefer a complete rule, then a whole-bucket one.
        judged = sorted(
            ((rule_problems(r, target_id), rule_scope(r), r) for r in candidates),
            key=lambda j: (bool(j[0]), j[1] is not None),
        )
        rule_issues, scope, rule = judged[0]
        rule_id = str(rule.get("ID", "(no id)"))
        problems.extend(f"rule {rule_id}: {p}" for p in rule_issues)
        return problems, scope, rule_id
