"""The IAM half of `cognito.migration_trigger`: may the Lambda assume the source role?

A helper (no check here). The function's role is read in the target (its inline
and attached policies, its permissions boundary, and the IAM policy simulator for
what documents cannot show: service control policies); the source role only with
`iam:GetRole`, a read on the source allowlist, for its trust policy.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from checks.cognito.trigger_wiring import (
    ASSUME_ROLE,
    Findings,
    Verdict,
    allows_action,
    read_trust,
    simulation_verdict,
    trust_verdict,
)
from runbook.aws.errors import error_code, is_access_denied
from runbook.checkapi import CheckContext

Document = dict[str, Any]


def _document(value: Any) -> Document:
    """botocore decodes IAM policy documents; a URL-encoded string is decoded here too."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        decoded = json.loads(unquote(value))
        return decoded if isinstance(decoded, dict) else {}
    return {}


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]  # the path, if any, is not part of the name


def _managed(iam: Any, policy_arn: str) -> Document:
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    return _document(
        iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    )


def _identity_documents(iam: Any, role: str) -> list[tuple[str, Document]]:
    documents: list[tuple[str, Document]] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in page.get("PolicyNames", []):
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            documents.append((f"inline policy {name}", _document(document)))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for attached in page.get("AttachedPolicies", []):
            arn = attached["PolicyArn"]
            documents.append((f"managed policy {arn}", _managed(iam, arn)))
    return documents


def _simulate(
    ctx: CheckContext, iam: Any, role_arn: str, source_role: str, static: Verdict, found: Findings
) -> Verdict:
    """What the policy documents cannot show: SCPs, and the simulator's own reading."""
    if ctx.emulated:
        found.notes.append(
            "the emulator has no IAM policy simulator: the function role was judged from its "
            "policy documents and boundary (no service control policies there)"
        )
        return static
    try:
        results = iam.simulate_principal_policy(
            PolicySourceArn=role_arn, ActionNames=[ASSUME_ROLE], ResourceArns=[source_role]
        )["EvaluationResults"]
    except ClientError as exc:
        if not is_access_denied(exc):
            raise
        if static.outcome != "ok":
            return static
        return Verdict(
            "warn",
            f"service control policies were not evaluated: iam:SimulatePrincipalPolicy was "
            f"denied ({error_code(exc)})",
        )
    verdict = static
    for result in results:
        verdict = simulation_verdict(result, verdict)
    return verdict


def function_role(
    ctx: CheckContext,
    role_arn: str,
    source_role: str,
    found: Findings,
    evidence: dict[str, Any],
) -> None:
    """May the Lambda's execution role call sts:AssumeRole on the source role?"""
    iam = ctx.client("target", "iam")
    name = _role_name(role_arn)
    boundary_arn: str | None = None
    try:
        role = iam.get_role(RoleName=name)["Role"]
        documents = _identity_documents(iam, name)
        boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = _managed(iam, boundary_arn) if boundary_arn else None
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            found.problem("function_role_missing", f"the Lambda's role {role_arn} does not exist")
            return
        if not is_access_denied(exc):
            raise
        found.warning(
            "function_role_unreadable",
            f"the Lambda's role {role_arn} could not be read ({error_code(exc)}): whether it "
            f"may assume {source_role} is unknown",
        )
        return
    verdict = allows_action(documents, ASSUME_ROLE, source_role)
    if boundary is not None and verdict.outcome != "fail":
        bounded = allows_action(
            [(f"permissions boundary {boundary_arn}", boundary)], ASSUME_ROLE, source_role
        )
        if bounded.outcome == "fail":
            verdict = Verdict("fail", f"its permissions boundary {boundary_arn} does not allow it")
        elif bounded.outcome == "warn":
            verdict = bounded
    verdict = _simulate(ctx, iam, role_arn, source_role, verdict, found)
    evidence["function_role"] = {
        "arn": role_arn,
        "policies": [label for label, _ in documents],
        "permissions_boundary": boundary_arn,
        "may_assume_source_role": verdict.outcome,
    }
    if verdict.outcome == "fail":
        found.problem(
            "role_cannot_assume",
            f"the Lambda's role {role_arn} may not {ASSUME_ROLE} {source_role}: {verdict.reason}",
        )
    elif verdict.outcome == "warn":
        found.warning(
            "role_assume_undecided",
            f"cannot tell whether the Lambda's role {role_arn} may {ASSUME_ROLE} "
            f"{source_role}: {verdict.reason}",
        )


def source_trust(
    ctx: CheckContext,
    source_role: str,
    role_arn: str,
    external_id: tuple[str | None, str | None],
    found: Findings,
    evidence: dict[str, Any],
) -> None:
    """Does the source role trust the Lambda's role, with the external ID it sends?

    `external_id` is (variable name, value) from the Lambda's environment; the value
    is compared and never kept.
    """
    iam = ctx.client("source", "iam")  # guarded: GetRole is a read
    try:
        role = iam.get_role(RoleName=_role_name(source_role))["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            found.problem(
                "source_role_missing",
                f"the source role {source_role} the Lambda assumes does not exist",
            )
            return
        if not is_access_denied(exc):
            raise
        found.warning(
            "source_role_unreadable",
            f"the trust policy of {source_role} could not be read ({error_code(exc)})",
        )
        return
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    env_name, value = external_id
    trust = read_trust(_document(role.get("AssumeRolePolicyDocument")), role_arn, account, value)
    evidence["source_role"] = {
        "arn": source_role,
        "trusted_principal": trust.principal,
        "external_id_required": trust.external_id_required,
    }
    found.add(
        "source_role_trust",
        trust_verdict(trust, role_arn, source_role, env_name or "OLD_EXTERNAL_ID (unset)"),
    )
