"""cognito.migration_trigger: the lazy, on-sign-in user migration is wired end to end.

Each link is checked on its own, so a failure names the one that is broken:
the target pool's UserMigration trigger, Cognito's permission to invoke it (for
this pool), the target app client's USER_PASSWORD_AUTH flow (the trigger never
fires for SRP sign-ins), the source app client's ADMIN_USER_PASSWORD_AUTH flow
(what the Lambda calls), the Lambda's environment naming the source pool, client
and cross-account role, the function role's sts:AssumeRole on that role, the
role's trust policy (the function's role and the external ID the Lambda sends),
the Post authentication trigger when the source has groups to copy, and the
pools' MFA settings against the runbook's `mfa_challenge`. The policy judgements
are in `checks.cognito.trigger_wiring`; the IAM reads in `trigger_iam`.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from checks.cognito.trigger_iam import function_role, source_trust
from checks.cognito.trigger_wiring import (
    Findings,
    Verdict,
    invoke_verdict,
    mapping_verdicts,
    mfa_verdicts,
)
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
MFA_POLICY_ENV = "MFA_POLICY"  # the handler's; unset means "accept_password"


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


def _invoke_permission(lam: Any, function: str, pool_arn: str) -> Verdict:
    """The function's resource policy, judged for Cognito invoking it for this pool."""
    try:
        policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        policy = {}  # no resource policy at all
    return invoke_verdict(policy, pool_arn)


def _mfa_config(client: Any, pool: str) -> dict[str, Any]:
    response: dict[str, Any] = client.get_user_pool_mfa_config(UserPoolId=pool)
    return response


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
            "cognito-idp:GetUserPoolMfaConfig",
            "cognito-idp:ListGroups",
            "lambda:GetFunctionConfiguration",
            "lambda:GetPolicy",
            "iam:GetRole",
            "iam:ListRolePolicies",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:SimulatePrincipalPolicy",
        ),
        remediation=(
            "On the target pool, attach the migration Lambda as the UserMigration trigger (and, "
            "when the source has groups, as the Post authentication trigger) and let "
            "cognito-idp.amazonaws.com invoke it with aws:SourceArn = the target pool's ARN; "
            "allow ALLOW_USER_PASSWORD_AUTH on the target app client (SRP sign-ins never fire "
            "the trigger); allow ALLOW_ADMIN_USER_PASSWORD_AUTH on the source app client; set "
            "the Lambda's OLD_USER_POOL_ID, OLD_CLIENT_ID, OLD_ROLE_ARN, OLD_EXTERNAL_ID and "
            "MFA_POLICY (= cognito.mfa_challenge); give its role sts:AssumeRole on OLD_ROLE_ARN; "
            "have the source role trust that role with sts:ExternalId = OLD_EXTERNAL_ID; set "
            "the target pool's MFA to suit mfa_challenge (accept_password keeps factors only "
            "where the target has MFA)."
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
            self._assume_chain(ctx, variables, found, evidence)
        if trigger:
            self._post_authentication(ctx, pool, source_pool, trigger, found, evidence)
        self._mfa(ctx, target_pool, source_pool, variables, found, evidence)

        _, env_client = env_value(variables or {}, "client_id")
        source_client = (
            params.source_client_id or _from_runbook(ctx, "source_client_id") or env_client
        )
        if source_client is None:
            found.notes.append("source app client unknown: its auth flows were not checked")
        else:
            self._source_client(ctx, source_pool, source_client, found, evidence)

        evidence["problems"] = list(found.problems)
        evidence["warnings"] = list(found.warnings)
        messages = list(found.problems.values())
        warnings = list(found.warnings.values())
        if len(messages) == 1:
            return CheckResult.failed(messages[0], [*warnings, *found.notes], **evidence)
        if messages:
            return CheckResult.failed(
                f"{len(messages)} problems: {', '.join(found.problems)}",
                [*messages, *warnings, *found.notes],
                **evidence,
            )
        if len(warnings) == 1:
            return CheckResult.warned(warnings[0], found.notes, **evidence)
        if warnings:
            return CheckResult.warned(
                f"{len(warnings)} warnings: {', '.join(found.warnings)}",
                [*warnings, *found.notes],
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
        verdict = _invoke_permission(lam, trigger, pool_arn)
        found.add(
            "lambda_not_invokable" if verdict.outcome == "fail" else "lambda_invoke_unscoped",
            verdict,
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

    @staticmethod
    def _assume_chain(
        ctx: CheckContext, variables: dict[str, str], found: Findings, evidence: dict[str, Any]
    ) -> None:
        """The Lambda's role may assume the source role, which trusts it with the external ID."""
        _, source_role = env_value(variables, "role_arn")
        account = ctx.runbook.accounts.source.account_id
        role_arn = (evidence.get("lambda") or {}).get("role")
        if source_role is None or f":iam::{account}:role/" not in source_role or not role_arn:
            return  # no cross-account role to judge (named as a problem already)
        function_role(ctx, role_arn, source_role, found, evidence)
        source_trust(
            ctx, source_role, role_arn, env_value(variables, "external_id"), found, evidence
        )

    @staticmethod
    def _post_authentication(
        ctx: CheckContext,
        pool: dict[str, Any],
        source_pool: str,
        trigger: str,
        found: Findings,
        evidence: dict[str, Any],
    ) -> None:
        """Groups are copied by the Post authentication trigger: needed when the source has any."""
        source = ctx.client("source", "cognito-idp")  # guarded: ListGroups is a read
        try:
            groups = source.list_groups(UserPoolId=source_pool, Limit=1).get("Groups", [])
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            found.problem("source_pool_missing", f"source user pool {source_pool} not found")
            return
        post_auth = pool.get("LambdaConfig", {}).get("PostAuthentication")
        evidence["post_authentication"] = post_auth
        evidence["source_has_groups"] = bool(groups)
        if not post_auth:
            if groups:
                found.problem(
                    "no_post_auth_trigger",
                    f"the source pool has groups but target pool {pool['Id']} has no Post "
                    "authentication trigger: moved users would arrive in no group (the "
                    "Lambda copies groups from that trigger)",
                )
            return
        if post_auth.split(":")[6:7] != trigger.split(":")[6:7]:
            found.warning(
                "post_auth_other_function",
                f"the Post authentication trigger is {post_auth}, not the migration Lambda: "
                "whether it copies groups is not known here",
            )
            # Cognito fails every sign-in whose Post authentication trigger it may not call.
            verdict = _invoke_permission(ctx.client("target", "lambda"), post_auth, pool["Arn"])
            found.add(
                "post_auth_not_invokable"
                if verdict.outcome == "fail"
                else "post_auth_invoke_unscoped",
                Verdict(verdict.outcome, f"Post authentication trigger: {verdict.reason}"),
            )

    @staticmethod
    def _mfa(
        ctx: CheckContext,
        target_pool: str,
        source_pool: str,
        variables: dict[str, str] | None,
        found: Findings,
        evidence: dict[str, Any],
    ) -> None:
        """The runbook's mfa_challenge, as the Lambda applies it, against both pools' MFA."""
        cognito = ctx.runbook.cognito
        challenge = cognito.mfa_challenge if cognito is not None else "accept_password"
        if variables is not None:
            policy = variables.get(MFA_POLICY_ENV) or "accept_password"
            evidence["lambda_mfa_policy"] = policy
            if policy != challenge:
                found.problem(
                    "env_mfa_policy_mismatch",
                    f"the Lambda's {MFA_POLICY_ENV} is {policy!r} but the runbook's "
                    f"cognito.mfa_challenge is {challenge!r}",
                )
            if cognito is not None:
                ci, cc = cognito.case_insensitive_emails, cognito.default_country_code
                for name, verdict in mapping_verdicts(ci, cc, variables).items():
                    found.add(name, verdict)
        target = _mfa_config(ctx.client("target", "cognito-idp"), target_pool)
        try:
            # guarded: GetUserPoolMfaConfig is a read
            source = _mfa_config(ctx.client("source", "cognito-idp"), source_pool)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            source = {}
        evidence["mfa"] = {
            "mfa_challenge": challenge,
            "target": target.get("MfaConfiguration"),
            "target_sms": bool((target.get("SmsMfaConfiguration") or {}).get("SmsConfiguration")),
            "target_totp": bool((target.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled")),
            "source": source.get("MfaConfiguration"),
        }
        for name, verdict in mfa_verdicts(
            challenge, target, source.get("MfaConfiguration")
        ).items():
            found.add(name, verdict)
