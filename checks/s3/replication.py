"""s3.replication: each source bucket replicates live into its target bucket.

Read in the source (guarded): the bucket's versioning, replication rules and
default encryption, and the rule's replication metrics in CloudWatch. Read in
the target: the destination's versioning (replication needs it on both sides)
and its Object Ownership. A good rule is Enabled, writes to the target bucket's
ARN and names the target account; and the target must own the replicas, or it
cannot read what lands in its own bucket: either the destination disables ACLs
(Object Ownership `BucketOwnerEnforced`, S3 then gives every replica to the
bucket owner) or the rule overrides the owner
(`AccessControlTranslation.Owner = Destination`).

S3 skips objects encrypted with SSE-KMS (or DSSE-KMS) unless the rule opts in:
`SourceSelectionCriteria.SseKmsEncryptedObjects` Enabled and a
`Destination.EncryptionConfiguration.ReplicaKmsKeyID`. A source whose default
encryption is KMS writes such objects by default, so a rule without the opt-in
fails; with SSE-S3 by default a client may still upload with an SSE-KMS header,
which the check cannot see: a `warn` until the runbook states there are none.

With replication metrics on, `OperationsFailedReplication` above zero in the
last hour fails the bucket; `ReplicationLatency` is reported.

Live replication never copies objects that existed before the rule: those
need S3 Batch Replication (or a one-off copy). The check cannot see whether
that was done, so a correct configuration is a `warn` carrying that reminder
until the runbook sets `existing_objects_copied = true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.formatting import duration

BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
BATCH_NOTE = (
    "live replication copies only objects written after the rule was enabled: objects that "
    "already existed need S3 Batch Replication (a Batch Operations replicate job) or a one-off "
    "copy; once done (or the bucket was empty), set existing_objects_copied = true"
)
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
KMS_OPT_IN = (
    "SourceSelectionCriteria.SseKmsEncryptedObjects.Status = Enabled and "
    "Destination.EncryptionConfiguration.ReplicaKmsKeyID"
)
METRICS_WINDOW = timedelta(minutes=60)
METRICS_PERIOD = 300

# Warning kinds, as the summary counts them.
PARTIAL = "only partly (filtered rules)"
KMS_UNKNOWN = "may skip SSE-KMS objects"
KMS_KEY_ELSEWHERE = "re-encrypt replicas with a key outside the target account"


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
    no_sse_kms_objects: bool = Field(
        default=False,
        description=(
            "The operator confirms no object in the source buckets is written with SSE-KMS "
            "(the check sees only the default encryption); until then a rule that does not "
            "replicate SSE-KMS objects is reported as warn. Never overrides a KMS default."
        ),
    )


@dataclass(frozen=True)
class Destination:
    """What the check knows of the two buckets, beside the rule."""

    target_account: str
    object_ownership: str | None  # None: no ownership controls (ACLs enabled)
    default_encryption: str | None  # SSEAlgorithm, None: no default encryption
    no_sse_kms_objects: bool

    @property
    def owner_enforced(self) -> bool:
        return self.object_ownership == "BucketOwnerEnforced"


@dataclass
class Verdict:
    """One rule judged: what fails it, and what only warns (kind, text)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sse_kms_replicated: bool = False


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


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4] else None


def _ownership(dest: dict[str, Any], where: Destination, verdict: Verdict) -> None:
    owner = (dest.get("AccessControlTranslation") or {}).get("Owner")
    if where.owner_enforced:
        verdict.notes.append(
            "target Object Ownership is BucketOwnerEnforced: ACLs are off and every replica is "
            "owned by the target account"
        )
    elif owner != "Destination":
        ownership = where.object_ownership or "not set (ACLs enabled)"
        verdict.problems.append(
            f"AccessControlTranslation.Owner is {owner or 'not set'}, not Destination, and the "
            f"target's Object Ownership is {ownership}, not BucketOwnerEnforced (replicas would "
            "stay owned by the source account)"
        )


def _sse_kms(rule: dict[str, Any], where: Destination, verdict: Verdict) -> None:
    criteria = (rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
    opted_in = criteria.get("Status") == "Enabled"
    dest = rule.get("Destination") or {}
    key = (dest.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID")
    default = where.default_encryption
    if opted_in and key:
        verdict.sse_kms_replicated = True
        verdict.notes.append(f"SSE-KMS objects replicate, re-encrypted with {key}")
        account = _arn_account(str(key))
        if account is not None and account != where.target_account:
            verdict.warnings.append(
                (
                    KMS_KEY_ELSEWHERE,
                    f"replicas are encrypted with a key in account {account}, not the target "
                    f"{where.target_account}: reading them depends on that key's policy after "
                    "the cutover",
                )
            )
    elif opted_in:
        verdict.problems.append(
            "SseKmsEncryptedObjects is Enabled but Destination.EncryptionConfiguration."
            "ReplicaKmsKeyID is not set: S3 cannot re-encrypt the replicas"
        )
    elif default in KMS_ALGORITHMS:
        verdict.problems.append(
            f"source default encryption is {default}: new objects are KMS-encrypted and this "
            f"rule skips them; set {KMS_OPT_IN}"
        )
    elif where.no_sse_kms_objects:
        verdict.notes.append("SSE-KMS objects: none, as confirmed in the runbook")
    else:
        verdict.warnings.append(
            (
                KMS_UNKNOWN,
                f"source default encryption is {default or 'not set'}, but objects uploaded "
                "with SSE-KMS would not replicate (this rule does not opt in) and the check "
                f"cannot see each object's encryption: set {KMS_OPT_IN}, or "
                "no_sse_kms_objects = true once confirmed",
            )
        )


def judge_rule(rule: dict[str, Any], where: Destination) -> Verdict:
    dest = rule.get("Destination") or {}
    verdict = Verdict()
    if rule.get("Status") != "Enabled":
        verdict.problems.append(f"status is {rule.get('Status')}, not Enabled")
    if dest.get("Account") != where.target_account:
        verdict.problems.append(
            f"Destination.Account is {dest.get('Account') or 'not set'}, not {where.target_account}"
        )
    _ownership(dest, where, verdict)
    _sse_kms(rule, where, verdict)
    scope = rule_scope(rule)
    if scope is not None:
        verdict.warnings.append(
            (PARTIAL, f"replicates only {scope}; objects outside it will not reach the target")
        )
    return verdict


@dataclass
class PairReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rule_id: str | None = None
    scope: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


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
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketOwnershipControls",
            "cloudwatch:GetMetricData",
        ),
        remediation=(
            "On the source bucket: enable versioning and add an Enabled replication rule to "
            "arn:aws:s3:::<target bucket> with Account = <target id>. Let the target own the "
            "replicas: set Object Ownership to BucketOwnerEnforced on the target bucket, or "
            "add AccessControlTranslation Owner = Destination to the rule (the destination "
            "bucket policy must then allow s3:ObjectOwnerOverrideToBucketOwner). If any object "
            "is SSE-KMS encrypted, enable SourceSelectionCriteria.SseKmsEncryptedObjects and "
            "set Destination.EncryptionConfiguration.ReplicaKmsKeyID to a target-account key "
            "(the replication role needs kms:Decrypt on the source key, kms:Encrypt on it). "
            "Enable versioning on the target bucket. Then copy the objects that predate the "
            "rule with S3 Batch Replication."
        ),
    )
    params_model = ReplicationParams

    def run(self, ctx: CheckContext, params: ReplicationParams) -> CheckResult:
        details: list[str] = []
        pairs: dict[str, Any] = {}
        failed: list[str] = []
        warned: dict[str, int] = {}
        for pair in params.buckets:
            src, dst = pair.source_bucket, pair.target_bucket
            report = self._pair(ctx, params, src, dst)
            pairs[src] = {
                "target_bucket": dst,
                "problems": report.problems,
                "warnings": [text for _, text in report.warnings],
                "rule": report.rule_id,
                "scope": report.scope,
                **report.evidence,
            }
            head = f"{src} -> {dst}"
            if report.problems:
                failed.append(src)
                details.extend(f"{head}: {p}" for p in report.problems)
                details.extend(f"{head}: {n}" for n in report.notes)
                continue
            details.append(f"{head}: rule {report.rule_id} replicates to the target account")
            details.extend(f"{head}: {n}" for n in report.notes)
            for kind, text in report.warnings:
                warned[kind] = warned.get(kind, 0) + 1
                details.append(f"{head}: rule {report.rule_id} {text}")

        if params.existing_objects_copied:
            details.append("existing objects: copied, as confirmed in the runbook")
        else:
            details.append(f"reminder: {BATCH_NOTE}")
        evidence: dict[str, Any] = {
            "buckets": pairs,
            "existing_objects_copied": params.existing_objects_copied,
            "no_sse_kms_objects": params.no_sse_kms_objects,
        }

        n = len(params.buckets)
        if failed:
            return CheckResult.failed(
                f"replication not ready for {len(failed)} of {n} buckets: {', '.join(failed)}",
                details,
                **evidence,
            )
        caveats = [f"{count} {kind}" for kind, count in warned.items()]
        if not params.existing_objects_copied:
            caveats.append("objects older than the rule still need S3 Batch Replication")
        if caveats:
            return CheckResult.warned(
                f"{n} buckets replicate live; {'; '.join(caveats)}", details, **evidence
            )
        return CheckResult.passed(
            f"{n} buckets replicate live and existing objects were copied", details, **evidence
        )

    def _pair(self, ctx: CheckContext, params: ReplicationParams, src: str, dst: str) -> PairReport:
        source_s3 = ctx.client("source", "s3")
        target_s3 = ctx.client("target", "s3")
        report = PairReport()
        try:
            status = source_s3.get_bucket_versioning(Bucket=src).get("Status")
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
            report.problems.append(f"source bucket {src} does not exist")
            return report
        if status != "Enabled":
            report.problems.append(
                f"source versioning is {status or 'never enabled'}, must be Enabled"
            )

        ownership: str | None = None
        try:
            status = target_s3.get_bucket_versioning(Bucket=dst).get("Status")
            if status != "Enabled":
                report.problems.append(
                    f"target versioning is {status or 'never enabled'}, must be Enabled"
                )
            ownership = _object_ownership(target_s3, dst)
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
            report.problems.append(f"target bucket {dst} does not exist")
        report.evidence["target_object_ownership"] = ownership

        try:
            config = source_s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "ReplicationConfigurationNotFoundError":
                raise
            report.problems.append("no replication configuration on the source bucket")
            return report

        dest_arn = f"arn:aws:s3:::{dst}"
        rules = config.get("Rules", [])
        candidates = [r for r in rules if (r.get("Destination") or {}).get("Bucket") == dest_arn]
        if not candidates:
            elsewhere = sorted({(r.get("Destination") or {}).get("Bucket", "?") for r in rules})
            report.problems.append(
                f"no replication rule writes to {dest_arn} (rules go to: "
                f"{', '.join(elsewhere) or 'nothing'})"
            )
            return report

        default = _default_encryption(source_s3, src)
        report.evidence["default_encryption"] = default
        where = Destination(
            target_account=ctx.runbook.accounts.target.account_id,
            object_ownership=ownership,
            default_encryption=default,
            no_sse_kms_objects=params.no_sse_kms_objects,
        )
        # Prefer a complete rule, then one without caveats, then a whole-bucket one.
        judged = sorted(
            ((judge_rule(r, where), rule_scope(r), r) for r in candidates),
            key=lambda j: (bool(j[0].problems), len(j[0].warnings), j[1] is not None),
        )
        verdict, report.scope, rule = judged[0]
        report.rule_id = str(rule.get("ID", "(no id)"))
        report.problems.extend(f"rule {report.rule_id}: {p}" for p in verdict.problems)
        report.warnings = verdict.warnings
        report.notes = verdict.notes
        report.evidence["sse_kms_replicated"] = verdict.sse_kms_replicated
        report.evidence["metrics"] = None
        if ((rule.get("Destination") or {}).get("Metrics") or {}).get("Status") != "Enabled":
            report.notes.append(
                "replication metrics are off: failed replications cannot be seen "
                "(enable Destination.Metrics on the rule)"
            )
            return report
        failed, latency = _replication_metrics(ctx, src, dst, report.rule_id)
        minutes = int(METRICS_WINDOW.total_seconds() // 60)
        report.evidence["metrics"] = {
            "window_minutes": minutes,
            "operations_failed": failed,
            "latency_max_seconds": latency,
        }
        if failed:
            report.problems.append(
                f"{failed:g} operations failed to replicate in the last {minutes} minutes "
                "(OperationsFailedReplication; S3 does not retry them: re-replicate with "
                "S3 Batch Replication once the cause is fixed)"
            )
        elif failed is None and latency is None:
            report.notes.append(
                f"replication metrics: no datapoints in the last {minutes} minutes "
                "(nothing was written, or the metrics are not published yet)"
            )
        else:
            late = f"; latency up to {duration(latency)}" if latency is not None else ""
            report.notes.append(f"no failed replication in the last {minutes} minutes{late}")
        return report


def _object_ownership(target_s3: Any, bucket: str) -> str | None:
    try:
        controls = target_s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    except ClientError as exc:
        if error_code(exc) != "OwnershipControlsNotFoundError":
            raise
        return None  # a bucket from before ownership controls: ACLs on, object writer owns
    rules = controls.get("Rules") or [{}]
    value = rules[0].get("ObjectOwnership")
    return str(value) if value else None


def _default_encryption(source_s3: Any, bucket: str) -> str | None:
    try:
        config = source_s3.get_bucket_encryption(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        return None  # buckets made before 2023 may have none
    for rule in config["ServerSideEncryptionConfiguration"].get("Rules", []):
        algorithm = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        if algorithm:
            return str(algorithm)
    return None


def _replication_metrics(
    ctx: CheckContext, src: str, dst: str, rule_id: str
) -> tuple[float | None, float | None]:
    """(failed operations summed, worst latency in seconds) over the window; None: no data.

    S3 publishes them in the source account's CloudWatch (namespace AWS/S3), per rule.
    """
    dims = [
        {"Name": "SourceBucket", "Value": src},
        {"Name": "DestinationBucket", "Value": dst},
        {"Name": "RuleId", "Value": rule_id},
    ]

    def query(qid: str, name: str, stat: str) -> dict[str, Any]:
        metric = {"Namespace": "AWS/S3", "MetricName": name, "Dimensions": dims}
        return {"Id": qid, "MetricStat": {"Metric": metric, "Period": METRICS_PERIOD, "Stat": stat}}

    end = ctx.now()
    values: dict[str, list[float]] = {"failed": [], "latency": []}
    pages = (
        ctx.client("source", "cloudwatch")
        .get_paginator("get_metric_data")
        .paginate(
            MetricDataQueries=[
                query("failed", "OperationsFailedReplication", "Sum"),
                query("latency", "ReplicationLatency", "Maximum"),
            ],
            StartTime=end - METRICS_WINDOW,
            EndTime=end,
        )
    )
    for page in pages:
        for result in page.get("MetricDataResults", []):
            values[str(result["Id"])].extend(float(v) for v in result.get("Values", []))
    failed = sum(values["failed"]) if values["failed"] else None
    latency = max(values["latency"]) if values["latency"] else None
    return failed, latency
