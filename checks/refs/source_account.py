"""refs.source_account: nothing in the target still points at the source account.

ARNs and ECR image URIs carry the account ID, so a copied template, task
definition, parameter or policy keeps working against the source until the
source is switched off, and then fails in production. The account ID is
matched as a whole 12-digit token, wherever it appears in a value.

Scanned in the target, reads only: Lambda, CloudFormation, ECS and CodeBuild
configuration (`checks/refs/scanners.py`), SSM parameters (SecureString values
are never read), Step Functions definitions, EventBridge buses, rules and
targets, and the resource policies of IAM roles (trust), KMS keys, S3 buckets,
SQS queues and SNS topics (`checks/refs/policies.py`). A service or resource the
check may not read is named as not scanned: the result is then at best a warning.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from checks.refs import policies, scanners
from checks.refs.finder import Finder
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.formatting import plural

Surface = Literal[
    "lambda",
    "cloudformation",
    "ecs",
    "codebuild",
    "ssm",
    "stepfunctions",
    "events",
    "iam",
    "kms",
    "s3",
    "sqs",
    "sns",
]

SCANNERS: dict[Surface, Callable[[CheckContext, Finder], None]] = {
    "lambda": scanners.scan_lambda,
    "cloudformation": scanners.scan_cloudformation,
    "ecs": scanners.scan_ecs,
    "codebuild": scanners.scan_codebuild,
    "ssm": scanners.scan_ssm,
    "stepfunctions": scanners.scan_stepfunctions,
    "events": scanners.scan_events,
    "iam": policies.scan_iam,
    "kms": policies.scan_kms,
    "s3": policies.scan_s3,
    "sqs": policies.scan_sqs,
    "sns": policies.scan_sns,
}
ALL_SURFACES: tuple[Surface, ...] = get_args(Surface)


class SourceRefsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    surfaces: tuple[Surface, ...] = Field(
        default=ALL_SURFACES,
        min_length=1,
        description=(
            "Where to look: lambda, cloudformation, ecs, codebuild, ssm, stepfunctions, "
            "events, iam, kms, s3, sqs, sns (default: all)."
        ),
    )
    allow: tuple[str, ...] = Field(
        default=(),
        description=(
            "Deliberate references, as glob patterns over `service:resource:key` "
            "(e.g. `lambda:user-migration:SOURCE_ROLE_ARN` for the Cognito migration trigger)."
        ),
    )


class SourceAccountRefsCheck(Check[SourceRefsParams]):
    meta = CheckMeta(
        id="refs.source_account",
        title="No reference to the source account ID in the target",
        account="target",
        blocking=True,
        severity="high",
        iam_actions=(
            "lambda:ListFunctions",
            "lambda:GetFunction",
            "cloudformation:DescribeStacks",
            "cloudformation:GetTemplate",
            "ecs:ListTaskDefinitionFamilies",
            "ecs:ListClusters",
            "ecs:ListServices",
            "ecs:DescribeServices",
            "ecs:DescribeTaskDefinition",
            "codebuild:ListProjects",
            "codebuild:BatchGetProjects",
            "ssm:DescribeParameters",
            "ssm:GetParameters",
            "states:ListStateMachines",
            "states:DescribeStateMachine",
            "events:ListEventBuses",
            "events:DescribeEventBus",
            "events:ListRules",
            "events:ListTargetsByRule",
            "iam:ListRoles",
            "kms:ListKeys",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "s3:ListAllMyBuckets",
            "s3:GetBucketPolicy",
            "sqs:ListQueues",
            "sqs:GetQueueAttributes",
            "sns:ListTopics",
            "sns:GetTopicAttributes",
        ),
        remediation=(
            "Replace each listed value with the target account's resource (ARN, ECR image URI "
            "<target-id>.dkr.ecr..., secret or parameter) and redeploy; in a policy, name the "
            "target's principals, topics and accounts instead of the source's. Grant the "
            "listed read actions where a service is reported as not scanned. Allow a reference in "
            "the check's `allow` only when it must stay (e.g. the Cognito migration trigger's "
            "cross-account role)."
        ),
    )
    params_model = SourceRefsParams

    def run(self, ctx: CheckContext, params: SourceRefsParams) -> CheckResult:
        source_id = ctx.runbook.accounts.source.account_id
        finder = Finder(source_id)
        surfaces = list(dict.fromkeys(params.surfaces))
        for surface in surfaces:
            # A denial on listing leaves the whole service unread; the others go on.
            with finder.reading(surface):
                SCANNERS[surface](ctx, finder)

        allowed = [
            r for r in finder.found if any(fnmatch.fnmatchcase(r.label, p) for p in params.allow)
        ]
        expected = [r for r in finder.found if r.expected and r not in allowed]
        blocking = [r for r in finder.found if r not in allowed and r not in expected]
        details = [
            f"{r.service} {r.resource}: {r.key}"
            + (" (ECR image URI in the source registry)" if r.ecr_image else "")
            + f" = {r.excerpt}"
            for r in blocking
        ]
        details += [f"not scanned: {u.text}" for u in finder.unread]
        details += [f"allowed by `allow`: {r.service} {r.resource}: {r.key}" for r in allowed]
        details += [f"expected: {r.service} {r.resource}: {r.key}: {r.expected}" for r in expected]
        if finder.secure_strings:
            details.append(
                "SecureString values not read (never fetched): " + ", ".join(finder.secure_strings)
            )
        whole = {u.service for u in finder.unread if not u.resource}
        counted = [s for s in surfaces if s in finder.scanned or s not in whole]
        scanned = ", ".join(f"{s} {finder.scanned.get(s, 0)}" for s in counted)
        notes = _unread_summary(finder)
        if finder.secure_strings:
            n = len(finder.secure_strings)
            notes.append(f"{n} SecureString value{'s' if n > 1 else ''} not read")
        tail = "; " + "; ".join(notes) if notes else ""
        evidence: dict[str, Any] = {
            "source_account": source_id,
            "scanned": {s: finder.scanned.get(s, 0) for s in counted},
            "not_scanned": [asdict(u) for u in finder.unread],
            "references": [asdict(r) for r in blocking],
            "allowed": [asdict(r) for r in allowed],
            "expected": [asdict(r) for r in expected],
            "secure_strings_not_read": finder.secure_strings,
        }
        if blocking:
            resources = sorted({f"{r.service} {r.resource}" for r in blocking})
            return CheckResult.failed(
                f"{plural(len(blocking), 'reference')} to source account {source_id} in "
                f"{plural(len(resources), 'resource')}: {', '.join(resources[:5])}"
                + (" ..." if len(resources) > 5 else "")
                + tail,
                details,
                **evidence,
            )
        if finder.unread:
            return CheckResult.warned(
                f"no reference to source account {source_id} in what could be read "
                f"(scanned {scanned}){tail}",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"no reference to source account {source_id} (scanned {scanned}){tail}",
            details,
            **evidence,
        )


def _unread_summary(finder: Finder) -> list[str]:
    """One clause for what could not be read: per service, the resources or how many."""
    by_service: dict[str, list[str]] = {}
    for unread in finder.unread:
        by_service.setdefault(unread.service, []).append(unread.text)
    clauses = []
    for service, texts in by_service.items():
        if len(texts) > 3:
            texts = [f"{service} {len(texts)} resources, e.g. {texts[0]}"]
        clauses.extend(texts)
    return [f"not scanned: {', '.join(clauses)}"] if clauses else []
