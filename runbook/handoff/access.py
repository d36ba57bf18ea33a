"""Requests for access into the source: this tool's read-only role, the trigger's role,
the source app client's auth flow and the canary user.

The UserMigration trigger (see runbook/cognito/trigger) assumes a role in the
source with an external ID and calls DescribeUserPool, AdminGetUser, ListUsers,
AdminInitiateAuth and AdminListGroupsForUser on the source pool, through a
source app client that allows ALLOW_ADMIN_USER_PASSWORD_AUTH. UpdateUserPoolClient
resets every setting it is not given to its default, so the owner passes the
client's current settings with the new flow.
"""

from __future__ import annotations

import json
from typing import Any

from runbook.aws.guard import SOURCE_ALLOWLIST
from runbook.handoff.context import Context, param
from runbook.handoff.model import Command, Request
from runbook.registry import CheckLoadError, CheckRegistry

IDENTITY = "identity.accounts"
TRIGGER = "cognito.migration_trigger"
CANARY = "cognito.canary_signin"
TRIGGER_ACTIONS = (
    "cognito-idp:DescribeUserPool",
    "cognito-idp:AdminGetUser",
    "cognito-idp:ListUsers",
    "cognito-idp:AdminInitiateAuth",
    "cognito-idp:AdminListGroupsForUser",
)


def _doc(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def trust(principal: str, external_id: str | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _role_name(arn: str) -> str:
    return arn.split(":role/", 1)[-1].rsplit("/", 1)[-1]


def source_read_actions(ctx: Context, registry: CheckRegistry | None) -> list[str]:
    """The IAM actions of the runbook's checks that read the source, on services it may read."""
    if registry is None:
        return []
    actions: set[str] = set()
    for step in ctx.model.steps:
        for ref in step.checks:
            try:
                meta = registry.get(ref.id).meta
            except (KeyError, CheckLoadError):
                continue
            if meta.account in ("source", "both"):
                actions.update(a for a in meta.iam_actions if a.split(":")[0] in SOURCE_ALLOWLIST)
    return sorted(actions)


def read_role_request(ctx: Context, registry: CheckRegistry | None) -> list[Request]:
    role_arn = ctx.source.role_arn
    if role_arn is None:
        return []  # the operator reaches the source by a profile its owner already gave
    name = _role_name(role_arn)
    actions = source_read_actions(ctx, registry) or ["<read actions: runbook checks>"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    principal = f"arn:aws:iam::{ctx.target_id}:root"
    return [
        Request(
            key="read-role",
            phase="before",
            title="A read-only role for this tool's checks",
            arn=role_arn,
            reason=(
                "every gate reads the source through this role; the tool never writes to the "
                "source, and the role allows only the reads its checks make"
            ),
            verify=ctx.verify(IDENTITY, ctx.first_step(IDENTITY)),
            when_step=ctx.first_step(IDENTITY),
            commands=(
                Command(
                    "iam",
                    "CreateRole",
                    {
                        "RoleName": name,
                        "AssumeRolePolicyDocument": _doc(trust(principal, ctx.source.external_id)),
                        "MaxSessionDuration": 43200,
                    },
                    files={"AssumeRolePolicyDocument": f"{name}-trust.json"},
                ),
                Command(
                    "iam",
                    "PutRolePolicy",
                    {
                        "RoleName": name,
                        "PolicyName": "runbook-checks",
                        "PolicyDocument": _doc(policy),
                    },
                    files={"PolicyDocument": f"{name}-policy.json"},
                ),
            ),
            console=f"IAM console > Roles > Create role > Another AWS account ({ctx.target_id})",
            notes=(
                f"trusts the target account {ctx.target_id}; its admins grant sts:AssumeRole on "
                "this role to the operators",
            ),
        )
    ]


def trigger_requests(ctx: Context) -> list[Request]:
    out: list[Request] = []
    cognito = ctx.model.cognito
    region = ctx.source.region
    for step, params in ctx.refs(TRIGGER)[:1]:
        evidence = ctx.evidence.of(TRIGGER, step.id)
        pool = str(
            param(params, "source_user_pool_id")
            or evidence.get("source_user_pool_id")
            or (cognito.source_user_pool_id if cognito else "<source-user-pool-id>")
        )
        pool_arn = ctx.arn("cognito-idp", f"userpool/{pool}")
        role_arn = str(
            param(params, "source_role_arn")
            or f"arn:aws:iam::{ctx.source.account_id}:role/<cognito-migration-role>"
        )
        lam = evidence.get("lambda") if isinstance(evidence.get("lambda"), dict) else {}
        function_role = str(
            (lam or {}).get("role") or f"arn:aws:iam::{ctx.target_id}:role/<migration-lambda-role>"
        )
        external_id = param(params, "source_external_id")
        name = _role_name(role_arn)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": list(TRIGGER_ACTIONS), "Resource": pool_arn}
            ],
        }
        seen = [f"latest {TRIGGER}: {p}" for p in evidence.get("problems") or []]
        out.append(
            Request(
                key="trigger-role",
                phase="before",
                title="A cross-account role for the UserMigration trigger",
                arn=role_arn,
                reason=(
                    "the target pool's trigger authenticates each user against the source pool "
                    "at their first sign-in, through this role; the external ID stops any other "
                    "caller in the target from using it"
                ),
                verify=ctx.verify(TRIGGER, step.id),
                when_step=step.id,
                commands=(
                    Command(
                        "iam",
                        "CreateRole",
                        {
                            "RoleName": name,
                            "AssumeRolePolicyDocument": _doc(trust(function_role, external_id)),
                        },
                        files={"AssumeRolePolicyDocument": f"{name}-trust.json"},
                    ),
                    Command(
                        "iam",
                        "PutRolePolicy",
                        {
                            "RoleName": name,
                            "PolicyName": "user-migration",
                            "PolicyDocument": _doc(policy),
                        },
                        files={"PolicyDocument": f"{name}-policy.json"},
                    ),
                ),
                console=f"IAM console > Roles > Create role > AWS account {ctx.target_id}",
                notes=(
                    "trusts the trigger Lambda's execution role"
                    + ("" if lam else " (its ARN appears here once the check has read it)"),
                    "the external ID travels in the Lambda's OLD_EXTERNAL_ID, never in a log",
                ),
                evidence=tuple(seen),
            )
        )
        client = str(
            param(params, "source_client_id")
            or evidence.get("source_client_id")
            or "<source-app-client-id>"
        )
        flows = [str(f) for f in evidence.get("source_auth_flows") or []]
        wanted = sorted({*flows, "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"})
        out.append(
            Request(
                key="source-client-flow",
                phase="before",
                title=f"Allow ADMIN_USER_PASSWORD_AUTH on source app client {client}",
                arn=pool_arn,
                reason=(
                    "the trigger checks each password with AdminInitiateAuth "
                    "(ADMIN_USER_PASSWORD_AUTH) on this client"
                ),
                verify=ctx.verify(TRIGGER, step.id),
                when_step=step.id,
                commands=(
                    Command(
                        "cognito-idp",
                        "UpdateUserPoolClient",
                        {"UserPoolId": pool, "ClientId": client, "ExplicitAuthFlows": wanted},
                        region,
                    ),
                ),
                console=(
                    f"Cognito console > User pools > {pool} > App clients > {client} > Edit > "
                    "Authentication flows > ALLOW_ADMIN_USER_PASSWORD_AUTH"
                ),
                notes=(
                    "UpdateUserPoolClient resets every setting it is not given: pass the "
                    "client's current settings (describe-user-pool-client) with this flow added, "
                    "or use the console",
                ),
            )
        )
    for step, params in ctx.refs(CANARY)[:1]:
        pool = str(
            param(params, "source_user_pool_id")
            or (cognito.source_user_pool_id if cognito else "<source-user-pool-id>")
        )
        secret = param(params, "secret_id")
        out.append(
            Request(
                key="canary-user",
                phase="before",
                title="A canary user in the source pool",
                arn=ctx.arn("cognito-idp", f"userpool/{pool}"),
                reason=(
                    "a real source user signs in to the target before the flip, proving the "
                    "trigger, its role, the external ID and both app clients end to end"
                ),
                verify=ctx.verify(CANARY, step.id),
                when_step=step.id,
                commands=(
                    Command(
                        "cognito-idp",
                        "AdminCreateUser",
                        {
                            "UserPoolId": pool,
                            "Username": "<canary-username>",
                            "MessageAction": "SUPPRESS",
                        },
                        region,
                    ),
                    Command(
                        "cognito-idp",
                        "AdminSetUserPassword",
                        {
                            "UserPoolId": pool,
                            "Username": "<canary-username>",
                            "Password": "<canary-password>",
                            "Permanent": True,
                        },
                        region,
                    ),
                ),
                console=f"Cognito console > User pools > {pool} > Users > Create user",
                notes=(
                    "no MFA for the canary; its password goes to us out of band"
                    + (f", into the target secret {secret}" if secret else ""),
                ),
            )
        )
    return out
