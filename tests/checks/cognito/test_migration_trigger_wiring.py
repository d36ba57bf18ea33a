"""cognito.migration_trigger, end to end: invoke permission, role chain, Post auth, MFA.

Each test here passed (falsely) before the check read these links: moto's Lambda
policies, IAM roles and pool MFA settings are real resources; moto has no
iam:SimulatePrincipalPolicy, answered by tests.support.trigger_world.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from runbook.aws.session import build_session
from runbook.checkapi import CheckResult, Status
from tests.support.checks import result_text, run_check
from tests.support.cognitoworld import ACCESS_ROLE, EXTERNAL_ID, INVOKE_SID, World, seed_env
from tests.support.runbooks import SOURCE, TARGET
from tests.support.trigger_world import (
    ASSUME_POLICY,
    FUNCTION_ROLE,
    allowed_result,
    assume_statement,
    change,
    document,
    simulator,
    trust_statement,
)

FUNCTION_ROLE_ARN = f"arn:aws:iam::{TARGET}:role/{FUNCTION_ROLE}"
SOURCE_ROLE_NAME = ACCESS_ROLE.rsplit("/", 1)[-1]


def trigger(world: World, **params: Any) -> CheckResult:
    params.setdefault("target_client_id", world.target_client)
    return run_check(world.ctx, "cognito.migration_trigger", params)


def iam(world: World, account: str) -> Any:
    return build_session(world.ctx.runbook.account(account), read_only=False).client("iam")


def expect(result: CheckResult, status: Status, *names: str) -> None:
    assert result.status == status, result
    key = "problems" if status == Status.FAIL else "warnings"
    assert result.evidence[key] == list(names), result


def replace_permission(world: World, **grant: Any) -> None:
    """Cognito's invoke permission, as `aws lambda add-permission` with these arguments."""

    def grant_it(**extra: Any) -> None:
        world.lam.remove_permission(FunctionName=world.function_arn, StatementId=INVOKE_SID)
        world.lam.add_permission(
            FunctionName=world.function_arn,
            StatementId=INVOKE_SID,
            Action="lambda:InvokeFunction",
            Principal="cognito-idp.amazonaws.com",
            **extra,
        )

    change(world, lambda: grant_it(**grant), lambda: grant_it(SourceArn=world.target_pool_arn))


def test_the_seeded_chain_passes_and_asks_the_simulator_about_the_source_role(
    world: World,
) -> None:
    sim = simulator(world)
    result = trigger(world)
    assert result.status == Status.PASS, result
    assert result.evidence["function_role"]["may_assume_source_role"] == "ok"
    assert result.evidence["source_role"] == {
        "arn": ACCESS_ROLE,
        "trusted_principal": FUNCTION_ROLE_ARN,
        "external_id_required": True,
    }
    assert [
        (a["PolicySourceArn"], a["ActionNames.member.1"], a["ResourceArns.member.1"])
        for a in sim.asked
    ] == [(FUNCTION_ROLE_ARN, "sts:AssumeRole", ACCESS_ROLE)]


# --- the Lambda's resource policy ----------------------------------------------------


def test_permission_without_source_arn_warns_of_the_confused_deputy(world: World) -> None:
    replace_permission(world)  # no SourceArn: any pool in any account may invoke it
    result = trigger(world)
    expect(result, Status.WARN, "lambda_invoke_unscoped")
    assert "confused deputy" in result_text(result)


def test_permission_for_another_account_does_not_count(world: World) -> None:
    replace_permission(world, SourceAccount=SOURCE)
    expect(trigger(world), Status.FAIL, "lambda_not_invokable")


# --- the function role may assume the source role ------------------------------------


def set_role_policy(world: World, *statements: dict[str, Any]) -> None:
    client = iam(world, "target")

    def put(doc: str) -> None:
        client.put_role_policy(RoleName=FUNCTION_ROLE, PolicyName=ASSUME_POLICY, PolicyDocument=doc)

    change(world, lambda: put(document(*statements)), lambda: put(document(assume_statement())))


def test_function_role_without_assume_role_fails(world: World) -> None:
    set_role_policy(world, {"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    result = trigger(world)
    expect(result, Status.FAIL, "role_cannot_assume")
    assert (
        f"the Lambda's role {FUNCTION_ROLE_ARN} may not sts:AssumeRole {ACCESS_ROLE}: "
        f"no policy allows sts:AssumeRole on {ACCESS_ROLE}"
    ) in result_text(result)


def test_function_role_allowed_another_role_only_fails(world: World) -> None:
    set_role_policy(world, assume_statement(f"arn:aws:iam::{SOURCE}:role/other-*"))
    expect(trigger(world), Status.FAIL, "role_cannot_assume")


def test_wildcards_allow_and_a_managed_deny_wins(world: World) -> None:
    set_role_policy(world, {"Effect": "Allow", "Action": "sts:*", "Resource": "*"})
    assert trigger(world).status == Status.PASS
    client = iam(world, "target")
    arn = client.create_policy(
        PolicyName="no-cross-account",
        PolicyDocument=document(assume_statement(f"arn:aws:iam::{SOURCE}:role/*", "Deny")),
    )["Policy"]["Arn"]

    def detach() -> None:
        client.detach_role_policy(RoleName=FUNCTION_ROLE, PolicyArn=arn)
        client.delete_policy(PolicyArn=arn)

    change(world, lambda: client.attach_role_policy(RoleName=FUNCTION_ROLE, PolicyArn=arn), detach)
    result = trigger(world)
    expect(result, Status.FAIL, "role_cannot_assume")
    assert f"managed policy {arn} denies" in result_text(result)


def test_permissions_boundary_without_assume_role_fails(world: World) -> None:
    client = iam(world, "target")
    arn = client.create_policy(
        PolicyName="boundary",
        PolicyDocument=document({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}),
    )["Policy"]["Arn"]

    def remove() -> None:
        client.delete_role_permissions_boundary(RoleName=FUNCTION_ROLE)
        client.delete_policy(PolicyArn=arn)

    change(
        world,
        lambda: client.put_role_permissions_boundary(
            RoleName=FUNCTION_ROLE, PermissionsBoundary=arn
        ),
        remove,
    )
    result = trigger(world)
    expect(result, Status.FAIL, "role_cannot_assume")
    assert f"permissions boundary {arn} does not allow it" in result_text(result)


def test_a_conditional_allow_warns_unless_the_simulator_allows(world: World) -> None:
    conditional = {**assume_statement(), "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    set_role_policy(world, conditional)
    sim = simulator(world, {**allowed_result(), "EvalDecision": "implicitDeny"})
    expect(trigger(world), Status.WARN, "role_assume_undecided")
    sim.result = allowed_result()
    assert trigger(world).status == Status.PASS


def test_a_service_control_policy_denying_it_fails(world: World) -> None:
    denied = {
        **allowed_result(),
        "EvalDecision": "explicitDeny",
        "MatchedStatements": [],
        "OrganizationsDecisionDetail": {"AllowedByOrganizations": False},
    }
    simulator(world, denied)
    result = trigger(world)
    expect(result, Status.FAIL, "role_cannot_assume")
    assert "service control policy" in result_text(result)


def test_simulator_denied_warns_that_scps_were_not_evaluated(world: World) -> None:
    simulator(world, error="AccessDenied")
    result = trigger(world)
    expect(result, Status.WARN, "role_assume_undecided")
    assert "iam:SimulatePrincipalPolicy was denied" in result_text(result)


def test_on_the_emulator_the_simulator_is_not_called(world: World) -> None:
    sim = simulator(world, error="AccessDenied")
    ctx = dataclasses.replace(world.ctx, emulated=True)
    result = run_check(ctx, "cognito.migration_trigger", {"target_client_id": world.target_client})
    assert result.status == Status.PASS, result
    assert sim.asked == []
    assert any("no IAM policy simulator" in line for line in result.details)


# --- the source role's trust policy --------------------------------------------------


def set_trust(world: World, *statements: dict[str, Any]) -> None:
    client = iam(world, "source")

    def put(doc: str) -> None:
        client.update_assume_role_policy(RoleName=SOURCE_ROLE_NAME, PolicyDocument=doc)

    change(
        world,
        lambda: put(document(*statements)),
        lambda: put(document(trust_statement(FUNCTION_ROLE_ARN))),
    )


def test_trust_naming_another_role_fails(world: World) -> None:
    set_trust(world, trust_statement(f"arn:aws:iam::{TARGET}:role/someone-else"))
    result = trigger(world)
    expect(result, Status.FAIL, "source_role_trust")
    assert f"does not let the Lambda's role {FUNCTION_ROLE_ARN}" in result_text(result)


def test_trust_requiring_another_external_id_fails_without_showing_either(world: World) -> None:
    set_trust(world, trust_statement(FUNCTION_ROLE_ARN, "a-different-secret"))
    result = trigger(world)
    expect(result, Status.FAIL, "source_role_trust")
    shown = json.dumps(result.model_dump(mode="json"))
    assert EXTERNAL_ID not in shown and "a-different-secret" not in shown


def test_trust_of_the_target_account_root_with_the_external_id_passes(world: World) -> None:
    set_trust(world, trust_statement(f"arn:aws:iam::{TARGET}:root"))
    result = trigger(world)
    assert result.status == Status.PASS, result
    assert result.evidence["source_role"]["trusted_principal"] == f"arn:aws:iam::{TARGET}:root"


def test_trust_without_an_external_id_warns(world: World) -> None:
    set_trust(world, trust_statement(FUNCTION_ROLE_ARN, external_id=None))
    expect(trigger(world), Status.WARN, "source_role_trust")


def test_source_role_missing_fails(world: World) -> None:
    gone = f"arn:aws:iam::{SOURCE}:role/deleted-role"
    world.set_env({**seed_env(world.source_pool, world.source_client), "OLD_ROLE_ARN": gone})
    result = trigger(world)
    # Judged against the role the Lambda names: the seeded policy allows only the other one.
    expect(result, Status.FAIL, "role_cannot_assume", "source_role_missing")


# --- the Post authentication trigger -------------------------------------------------


def add_source_group(world: World) -> None:
    change(
        world,
        lambda: world.source.create_group(UserPoolId=world.source_pool, GroupName="admins"),
        lambda: world.source.delete_group(UserPoolId=world.source_pool, GroupName="admins"),
    )


def set_lambda_config(world: World, config: dict[str, str]) -> None:
    change(
        world,
        lambda: world.target.update_user_pool(UserPoolId=world.target_pool, LambdaConfig=config),
        lambda: world.target.update_user_pool(
            UserPoolId=world.target_pool, LambdaConfig={"UserMigration": world.function_arn}
        ),
    )


def test_source_groups_without_a_post_authentication_trigger_fail(world: World) -> None:
    add_source_group(world)
    result = trigger(world)
    expect(result, Status.FAIL, "no_post_auth_trigger")
    assert "moved users would arrive in no group" in result_text(result)


def test_source_groups_with_the_lambda_as_post_authentication_pass(world: World) -> None:
    add_source_group(world)
    set_lambda_config(
        world, {"UserMigration": world.function_arn, "PostAuthentication": world.function_arn}
    )
    result = trigger(world)
    assert result.status == Status.PASS, result
    assert result.evidence["post_authentication"] == world.function_arn


def test_another_post_authentication_function_is_judged_too(world: World) -> None:
    add_source_group(world)
    other = world.function_arn.replace("usermigration", "somethingelse")
    set_lambda_config(world, {"UserMigration": world.function_arn, "PostAuthentication": other})
    result = trigger(world)
    # It does not exist: Cognito cannot invoke it, and every sign-in would fail.
    expect(result, Status.FAIL, "post_auth_not_invokable")
    assert result.evidence["warnings"] == ["post_auth_other_function"]


# --- MFA -----------------------------------------------------------------------------


def with_challenge(world: World, challenge: str) -> Any:
    cognito = world.ctx.runbook.cognito
    assert cognito is not None
    runbook = world.ctx.runbook.model_copy(
        update={"cognito": cognito.model_copy(update={"mfa_challenge": challenge})}
    )
    return dataclasses.replace(world.ctx, runbook=runbook)


def set_mfa(world: World, side: str, mode: str, *, sms: bool = False) -> None:
    client, pool = (
        (world.source, world.source_pool) if side == "source" else (world.target, world.target_pool)
    )
    settings: dict[str, Any] = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
    if sms:
        role = f"arn:aws:iam::{TARGET}:role/cognito-sns"
        settings["SmsMfaConfiguration"] = {"SmsConfiguration": {"SnsCallerArn": role}}
    change(
        world,
        lambda: client.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration=mode, **settings),
        lambda: client.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OFF"),
    )


def accept_password(world: World) -> Any:
    world.set_env(
        {**seed_env(world.source_pool, world.source_client), "MFA_POLICY": "accept_password"}
    )
    return with_challenge(world, "accept_password")


def run_with(ctx: Any, world: World) -> CheckResult:
    return run_check(ctx, "cognito.migration_trigger", {"target_client_id": world.target_client})


def refuse(world: World) -> Any:
    world.set_env({**seed_env(world.source_pool, world.source_client), "MFA_POLICY": "refuse"})
    return with_challenge(world, "refuse")


def test_lambda_mfa_policy_other_than_the_runbook_fails(world: World) -> None:
    world.set_env({**seed_env(world.source_pool, world.source_client), "MFA_POLICY": "refuse"})
    result = trigger(world)  # the runbook says accept_password (the default)
    expect(result, Status.FAIL, "env_mfa_policy_mismatch")


def test_unset_mfa_policy_is_the_handlers_default_accept_password(world: World) -> None:
    # The handler treats an unset MFA_POLICY as accept_password: so must the check.
    result = run_with(with_challenge(world, "refuse"), world)
    expect(result, Status.FAIL, "env_mfa_policy_mismatch")


def test_accept_password_with_mfa_off_in_the_target_warns_when_the_source_has_mfa(
    world: World,
) -> None:
    ctx = accept_password(world)
    assert run_with(ctx, world).status == Status.PASS  # no MFA anywhere: nothing to lose
    set_mfa(world, "source", "OPTIONAL")
    expect(run_with(ctx, world), Status.WARN, "mfa_off_in_target")


def test_accept_password_with_sms_mfa_in_the_target_passes(world: World) -> None:
    ctx = accept_password(world)
    set_mfa(world, "source", "OPTIONAL", sms=True)
    set_mfa(world, "target", "OPTIONAL", sms=True)
    result = run_with(ctx, world)
    assert result.status == Status.PASS, result
    assert result.evidence["mfa"]["target"] == "OPTIONAL"
    set_mfa(world, "target", "OPTIONAL")  # TOTP only: SMS-MFA users' enableSMSMFA
    expect(run_with(ctx, world), Status.WARN, "mfa_no_sms_in_target")


def test_refuse_with_mfa_required_in_the_source_fails(world: World) -> None:
    ctx = refuse(world)
    set_mfa(world, "source", "ON")
    result = run_with(ctx, world)
    expect(result, Status.FAIL, "mfa_refuses_everyone")


def test_refuse_with_mfa_required_in_the_target_warns(world: World) -> None:
    ctx = refuse(world)
    set_mfa(world, "target", "ON")
    result = run_with(ctx, world)
    expect(result, Status.WARN, "mfa_required_in_target")
    assert "MFA_SETUP" in result_text(result)


# --- attribute mapping: the trigger and force-migration agree --------------------------


def test_the_lambda_maps_phones_and_emails_as_the_runbook_says(world: World) -> None:
    cognito = world.ctx.runbook.cognito
    assert cognito is not None
    with_code = dataclasses.replace(
        world.ctx,
        runbook=world.ctx.runbook.model_copy(
            update={"cognito": cognito.model_copy(update={"default_country_code": "44"})}
        ),
    )
    # The runbook completes phones with +44; the Lambda, unset, would list them.
    expect(run_with(with_code, world), Status.FAIL, "country_code_mismatch")
    world.set_env(
        {**seed_env(world.source_pool, world.source_client), "DEFAULT_COUNTRY_CODE": "+44"}
    )
    assert run_with(with_code, world).status != Status.FAIL
    world.set_env(
        {**seed_env(world.source_pool, world.source_client), "CASE_INSENSITIVE_EMAILS": "false"}
    )
    expect(run_with(world.ctx, world), Status.FAIL, "email_case_mismatch")
