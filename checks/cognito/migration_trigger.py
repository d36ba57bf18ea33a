"""cognito.migration_trigger: the lazy, on-sign-in user migration is wired end to end.

Each link is checked on its own, so a failure names the one that is broken:
the target pool's UserMigration trigger, Cognito's permission to invoke it, the
target app client's USER_PASSWORD_AUTH flow (the trigger never fires for SRP
sign-ins), the source app client's ADMIN_USER_PASSWORD_AUTH flow (what the
Lambda calls), and the Lambda's environment naming the source pool, client and
cross-account role.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

POOL_ID = r"^[\w-]+_[0-9a-zA-Z]+$"

# The seed's Lambda reads OLD_*; SOURCE_* is accepted for Lambdas written to this tool.
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "user_pool_id": ("OLD_USER_POOL_ID", "SOURCE_USER_POOL_ID"),
    "client_id": ("OLD_CLIENT_ID", "SOURCE_CLIENT_ID"),
    "role_arn": ("OLD_ROLE_ARN", "SOURCE_ROLE_ARN"),
    "external_id": ("OLD_EXTERNAL_ID", "SOURCE_EXTERNAL_ID"),
    "region": ("OLD_USER_POOL_REGION", "SOURCE_USER_POOL_REGION"),
}
TARGET_FLOWS = frozenset({"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"})
SOURCE_FLOWS = frozenset({"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"})
COGNITO_PRINCIPAL = "cognito-idp.amazonaws.com"


class MigrationTriggerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    target_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.target_user_pool_id."
    )
    target_client_id: str | None = Field(
        default=None,
        min_length=1,
        description="The app client users sign in with on the target pool (the SPA's client).",
    )
    source_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.source_user_pool_id."
    )
    source_client_id: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "The source app client the Lambda calls AdminInitiateAuth with. "
            "Default: the one the Lambda's environment names (then only its flows are checked)."
        ),
    )
    source_role_arn: str | None = Field(
        default=None,
        description=(
            "The cross-account role in the source the Lambda assumes. Default: any role "
            "in the source account."
        ),
    )
    source_external_id: str | None = Field(
        default=None, description="The role's external ID, if it requires one."
    )


def _from_runbook(ctx: CheckContext, field: str) -> str | None:
    cognito = ctx.runbook.cognito
    value = getattr(cognito, field, None) if cognito is not None else None
    return str(value) if value else None


def env_value(variables: dict[str, str], key: str) -> tuple[str | None, str | None]:
    """(variable name, value) of the first accepted name the Lambda defines."""
    for name in ENV_NAMES[key]:
        if variables.get(name):
            return name, variables[name]
    return None, None


def invoke_allowed(policy: dict[str, Any], pool_arn: str) -> bool:
    """Does a resource policy let Cognito, for this pool, invoke the function?"""
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if COGNITO_PRINCIPAL not in services and principal != "*":
            continue
        # Each SourceArn condition (ArnLike/ArnEquals, a value or a list) must admit the pool.
        conditions = [
            value if isinstance(value, list) else [value]
            for operator in statement.get("Condition", {}).values()
            if isinstance(operator, dict)
            for key, value in operator.items()
            if key.lower() == "aws:sourcearn"
        ]
        if all(
            any(fnmatch.fnmatchcase(pool_arn, str(pattern)) for pattern in patterns)
            for patterns in conditions
        ):
            return True
    return False


class Findings:
    """Problems by a short name (in the summary and evidence) with the full explanation."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}
        self.notes: list[str] = []

    def problem(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)


class MigrationTriggerCheck(Check[MigrationTriggerParams]):
    meta = CheckMeta(
        id="cognito.migration_trigger",
        title="The Cognito UserMigration trigger is wired to the source pool",
        account="both",
        blocking=True,
        severity="critical",
        iam_actions=(
            "cognito-idp:DescribeUserPool",
            "cognito-idp:DescribeUserPoolClient",
            "lambda:GetFunctionConfiguration",
            "lambda:GetPolicy",
        ),
        remediation=(
            "On the target pool, attach the migration Lambda as the UserMigration trigger and "
            "let cognito-idp.amazonaws.com invoke it; allow ALLOW_USER_PASSWORD_AUTH on the "
            "target app client (SRP sign-ins never fire the trigger); allow "
            "ALLOW_ADMIN_USER_PASSWORD_AUTH on the source app client; set the Lambda's "
            "OLD_USER_POOL_ID, OLD_CLIENT_ID, OLD_ROLE_ARN (and OLD_EXTERNAL_ID) to the source."
        ),
    )
    params_model = MigrationTriggerParams

    def run(self, ctx: CheckContext, params: MigrationTriggerParams) -> CheckResult:
        target_pool = params.target_user_pool_id or _from_runbook(ctx, "target_user_pool_id")
        target_client = params.target_client_id or _from_runbook(ctx, "target_client_id")
        source_pool = params.source_user_pool_id or _from_runbook(ctx, "source_user_pool_id")
        if target_pool is None or target_client is None or source_pool is None:
            unset = [
                name
                for name, value in (
                    ("target_user_pool_id", target_pool),
                    ("target_client_id", target_client),
                    ("source_user_pool_id", source_pool),
                )
                if value is None
            ]
            return CheckResult.errored(
                f"not configured: {', '.join(unset)}",
                ["set them in this check's params (the pool IDs may come from [cognito])"],
            )
        found = Findings()
        evidence: dict[str, Any] = {
            "target_user_pool_id": target_pool,
            "target_client_id": target_client,
            "source_user_pool_id": source_pool,
        }
        target = ctx.client("target", "cognito-idp")
        try:
            pool = target.describe_user_pool(UserPoolId=target_pool)["UserPool"]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            return CheckResult.failed(
                f"target user pool {target_pool} not found",
                [str(exc)],
                problems=["target_pool_missing"],
                **evidence,
            )
        trigger = pool.get("LambdaConfig", {}).get("UserMigration")
        evidence["trigger"] = trigger

        self._target_client(target, target_pool, target_client, found, evidence)
        variables: dict[str, str] | None = None
        if not trigger:
            found.problem("no_trigger", f"target pool {target_pool} has no UserMigration trigger")
        else:
            variables = self._lambda(ctx, trigger, pool["Arn"], found, evidence)
        if variables is not None:
            self._environment(ctx, params, source_pool, variables, found, evidence)

        _, env_client = env_value(variables or {}, "client_id")
        source_client = (
            params.source_client_id or _from_runbook(ctx, "source_client_id") or env_client
        )
        if source_client is None:
            found.notes.append("source app client unknown: its auth flows were not checked")
        else:
            self._source_client(ctx, source_pool, source_client, found, evidence)

        evidence["problems"] = list(found.problems)
        messages = list(found.problems.values())
        if len(messages) == 1:
            return CheckResult.failed(messages[0], found.notes, **evidence)
        if messages:
            return CheckResult.failed(
                f"{len(messages)} problems: {', '.join(found.problems)}",
                [*messages, *found.notes],
                **evidence,
            )
        return CheckResult.passed(
            f"UserMigration trigger {trigger.rsplit(':', 1)[-1]} migrates from {source_pool}",
            found.notes,
            **evidence,
        )

    @staticmethod
    def _target_client(
        target: Any, pool: str, client_id: str, found: Findings, evidence: dict[str, Any]
    ) -> None:
        try:
            client = target.describe_user_pool_client(UserPoolId=pool, ClientId=client_id)[
                "UserPoolClient"
            ]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            found.problem("target_client_missing", f"target app client {client_id} not in {pool}")
            return
        flows = sorted(client.get("ExplicitAuthFlows", []))
        evidence["target_auth_flows"] = flows
        if TARGET_FLOWS.isdisjoint(flows):
            found.problem(
                "target_flow",
                f"target app client {client_id} does not allow ALLOW_USER_PASSWORD_AUTH "
                f"(has {', '.join(flows) or 'none'}): the trigger never fires for SRP sign-ins",
            )

    @staticmethod
    def _lambda(
        ctx: CheckContext, trigger: str, pool_arn: str, found: Findings, evidence: dict[str, Any]
    ) -> dict[str, str] | None:
        """The trigger function's environment, or None if there is no function to read."""
        lam = ctx.client("target", "lambda")
        try:
            config = lam.get_function_configuration(FunctionName=trigger)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            found.problem("lambda_missing", f"the UserMigration Lambda {trigger} does not exist")
            return None
        evidence["lambda"] = {
            "arn": config.get("FunctionArn"),
            "state": config.get("State"),
            "timeout_s": config.get("Timeout"),
            "role": config.get("Role"),
        }
        if config.get("State") == "Failed":
            found.problem(
                "lambda_failed",
                f"the UserMigration Lambda is in state Failed: {config.get('StateReason', '')}",
            )
        if int(config.get("Timeout", 3)) > 5:
            found.notes.append(
                f"Lambda timeout is {config['Timeout']}s, but Cognito waits only 5 s for the "
                "trigger: a slow answer from the source fails the sign-in"
            )
        try:
            policy = json.loads(lam.get_policy(FunctionName=trigger)["Policy"])
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            policy = {}  # no resource policy at all
        if not invoke_allowed(policy, pool_arn):
            found.problem(
                "lambda_not_invokable",
                f"the Lambda's resource policy does not let {COGNITO_PRINCIPAL} invoke it for "
                f"{pool_arn}: every migrating sign-in would fail",
            )
        environment = config.get("Environment", {})
        if environment.get("Error"):
            error = environment["Error"]
            found.problem(
                "lambda_env_unreadable",
                f"the Lambda's environment cannot be read: {error.get('Message', error)}",
            )
        return dict(environment.get("Variables", {}))

    @staticmethod
    def _environment(
        ctx: CheckContext,
        params: MigrationTriggerParams,
        source_pool: str,
        variables: dict[str, str],
        found: Findings,
        evidence: dict[str, Any],
    ) -> None:
        """The Lambda's environment names this runbook's source pool, client and role."""
        expected = {
            "user_pool_id": source_pool,
            "client_id": params.source_client_id or _from_runbook(ctx, "source_client_id"),
            "role_arn": params.source_role_arn,
            "external_id": params.source_external_id,
        }
        seen: dict[str, Any] = {}
        for key, want in expected.items():
            name, value = env_value(variables, key)
            # The external ID guards the role like a shared secret: never shown.
            secret = key == "external_id"
            seen[key] = {"variable": name, "value": None if secret else value}
            label = key.replace("_", " ")
            if name is None:
                if not secret or want is not None:
                    found.problem(
                        f"env_{key}_missing",
                        f"the Lambda's environment does not name the source {label} "
                        f"({' or '.join(ENV_NAMES[key])})",
                    )
            elif want is not None and value != want:
                found.problem(
                    f"env_{key}_mismatch",
                    f"the Lambda's {name} does not match"
                    if secret
                    else f"the Lambda's {name} is {value!r}, expected {want!r}",
                )
        evidence["lambda_env"] = seen

        account = ctx.runbook.accounts.source.account_id
        _, role = env_value(variables, "role_arn")
        if role is not None and f":iam::{account}:role/" not in role:
            found.problem(
                "role_not_in_source",
                f"the Lambda's source role {role} is not in the source account {account}",
            )
        region_name, region = env_value(variables, "region")
        if region is not None and not source_pool.startswith(region + "_"):
            found.problem(
                "env_region_mismatch",
                f"the Lambda's {region_name} is {region!r} but {source_pool} is in "
                f"{source_pool.split('_', 1)[0]}",
            )

    @staticmethod
    def _source_client(
        ctx: CheckContext, pool: str, client_id: str, found: Findings, evidence: dict[str, Any]
    ) -> None:
        source = ctx.client("source", "cognito-idp")  # guarded: a read-only describe
        try:
            client = source.describe_user_pool_client(UserPoolId=pool, ClientId=client_id)[
                "UserPoolClient"
            ]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            found.problem("source_client_missing", f"source app client {client_id} not in {pool}")
            return
        flows = sorted(client.get("ExplicitAuthFlows", []))
        evidence["source_client_id"] = client_id
        evidence["source_auth_flows"] = flows
        if SOURCE_FLOWS.isdisjoint(flows):
            found.problem(
                "source_flow",
                f"source app client {client_id} does not allow ALLOW_ADMIN_USER_PASSWORD_AUTH "
                f"(has {', '.join(flows) or 'none'}): the Lambda cannot check passwords",
            )
        if client.get("ClientSecret"):
            # Only that there is one: the Lambda must then send SECRET_HASH.
            evidence["source_client_has_secret"] = True
            found.notes.append(
                f"source app client {client_id} has a client secret: the Lambda must send "
                "SECRET_HASH with AdminInitiateAuth"
            )
