"""cognito.canary_signin: a real user of the source signs in to the target, end to end.

The only proof that lazy migration works before the flip: a canary user of the
source pool signs in against the TARGET app client with `USER_PASSWORD_AUTH`
(`InitiateAuth`, the call the app makes). The target pool does not know the
user, so Cognito invokes the UserMigration trigger, which assumes its role in
the source (with its external ID) and authenticates there through the source
app client. Tokens back prove every link; then the user is read in both pools
and the target's attributes compared with the source's, as the trigger maps
them.

The sign-in CREATES the canary in the target: that is its point. A second run
then signs in to the target directly, without the trigger, so it cannot prove
the trigger again: it warns, and says how to start over (delete the canary from
the target pool). A challenge (SMS, TOTP, email code, MFA setup) after the
trigger created the user proves the wiring but not a whole sign-in: it warns;
use a canary without MFA. NEW_PASSWORD_REQUIRED means the user would have to
change their password, which the playbook forbids: it fails.

The password comes from the environment or from a Secrets Manager secret in the
target account, never from runbook.toml; it is registered with the log redactor
as soon as it is read, and masked in any text the check reports. Cognito counts
a wrong canary password against the canary's lockout in the source, and no other
user's. The emulator never invokes Lambda triggers: there the check is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from checks.cognito.migration_progress import POOL_ID
from runbook.aws.errors import error_code
from runbook.aws.redact import MASK, register_secret
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.cognito.attributes import accepted_attributes, map_attributes

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
MFA_CHALLENGES = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE"})
# Set by the target pool itself, or never copied: not compared.
NOT_COMPARED = frozenset({"sub", "identities", "updated_at"})


class CanarySigninParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    target_client_id: str = Field(
        pattern=r"^[\w+]+$", max_length=128, description="The app client the app signs in with."
    )
    secret_id: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "A Secrets Manager secret in the target account (name or ARN) whose value is "
            'JSON: {"username": ..., "password": ...}. Default: the environment.'
        ),
    )
    username_env: str = Field(default="RUNBOOK_CANARY_USERNAME", pattern=ENV_NAME)
    password_env: str = Field(default="RUNBOOK_CANARY_PASSWORD", pattern=ENV_NAME)
    source_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.source_user_pool_id."
    )
    target_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.target_user_pool_id."
    )


class CredentialsMissing(Exception):
    """Why there is no canary to sign in; never holds a secret."""


def _credentials(ctx: CheckContext, params: CanarySigninParams) -> tuple[str, str, str]:
    """(username, password, where from); the password is registered with the redactor."""
    if params.secret_id is not None:
        sm = ctx.client("target", "secretsmanager")
        try:
            text = sm.get_secret_value(SecretId=params.secret_id).get("SecretString")
        except ClientError as exc:
            raise CredentialsMissing(
                f"secret {params.secret_id} not readable in the target account "
                f"({error_code(exc) or 'error'})"
            ) from None
        try:
            value = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise CredentialsMissing(f"secret {params.secret_id} is not a JSON object")
        username, password = value.get("username"), value.get("password")
        where = f"secret {params.secret_id}"
        missing = "its username and password keys"
    else:
        username = os.environ.get(params.username_env)
        password = os.environ.get(params.password_env)
        where = f"${params.username_env} and ${params.password_env}"
        missing = f"{where} in the environment"
    if isinstance(password, str):
        register_secret(password)  # before anything could log it
    if not (isinstance(username, str) and username and isinstance(password, str) and password):
        raise CredentialsMissing(f"no canary credentials: set {missing}")
    return username, password, where


def _get_user(client: Any, pool: str, username: str) -> dict[str, Any] | None:
    try:
        return dict(client.admin_get_user(UserPoolId=pool, Username=username))
    except ClientError as exc:
        if error_code(exc) == "UserNotFoundException":
            return None
        raise


def _attributes(user: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(user.get("UserAttributes", []))


class CanarySigninCheck(Check[CanarySigninParams]):
    meta = CheckMeta(
        id="cognito.canary_signin",
        title="A canary user signs in to the target and is migrated by the trigger",
        account="both",
        blocking=True,
        severity="high",
        # InitiateAuth is a public API (no IAM); the rest are reads.
        iam_actions=(
            "cognito-idp:AdminGetUser",
            "cognito-idp:DescribeUserPool",
            "secretsmanager:GetSecretValue",
        ),
        remediation=(
            "Create a canary user in the source pool (no MFA, confirmed) and give its "
            "credentials in the environment or a target-account Secrets Manager secret named "
            "by `secret_id`, never in runbook.toml. The sign-in creates the canary in the "
            "target pool (that is the test); delete it there to run the proof again. On "
            "failure, read the trigger's CloudWatch logs and run cognito.migration_trigger."
        ),
    )
    params_model = CanarySigninParams

    def run(self, ctx: CheckContext, params: CanarySigninParams) -> CheckResult:
        if ctx.emulated:
            return CheckResult.skipped(
                "the emulator never invokes Cognito Lambda triggers: a canary sign-in here "
                "would not go through the migration; run it against AWS",
            )
        cognito = ctx.runbook.cognito
        source_pool = params.source_user_pool_id or (
            cognito.source_user_pool_id if cognito else None
        )
        target_pool = params.target_user_pool_id or (
            cognito.target_user_pool_id if cognito else None
        )
        if source_pool is None or target_pool is None:
            return CheckResult.errored(
                "no user pools configured",
                ["set [cognito] source/target_user_pool_id, or this check's params"],
            )
        evidence: dict[str, Any] = {
            "source_user_pool_id": source_pool,
            "target_user_pool_id": target_pool,
            "target_client_id": params.target_client_id,
        }
        try:
            username, password, where = _credentials(ctx, params)
        except CredentialsMissing as exc:
            return CheckResult.failed(str(exc), [self.meta.remediation], **evidence)
        evidence.update(canary=username, credentials_from=where)
        return _Canary(ctx, params, source_pool, target_pool, username, password, evidence).run()


class _Canary:
    """One canary run; every text it reports goes through `_scrub`."""

    def __init__(
        self,
        ctx: CheckContext,
        params: CanarySigninParams,
        source_pool: str,
        target_pool: str,
        username: str,
        password: str,
        evidence: dict[str, Any],
    ) -> None:
        self.ctx = ctx
        self.params = params
        self.source_pool = source_pool
        self.target_pool = target_pool
        self.username = username
        self._password = password
        self.evidence = evidence
        self.source = ctx.client("source", "cognito-idp")
        self.target = ctx.client("target", "cognito-idp")

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, MASK)

    def _fail(self, summary: str, details: list[str] | None = None) -> CheckResult:
        return CheckResult.failed(
            self._scrub(summary), [self._scrub(d) for d in details or []], **self.evidence
        )

    def run(self) -> CheckResult:
        name = self.username
        source_user = _get_user(self.source, self.source_pool, name)
        if source_user is None:
            return self._fail(f"canary {name} is not in the source pool {self.source_pool}")
        self.evidence["source_status"] = source_user.get("UserStatus")
        if source_user.get("Enabled") is False:
            return self._fail(f"canary {name} is disabled in the source: it cannot sign in")
        if source_user.get("UserStatus") != "CONFIRMED":
            return self._fail(
                f"canary {name} is {source_user.get('UserStatus')} in the source, not CONFIRMED",
                ["the trigger's sign-in to the source would not complete; use a confirmed user"],
            )
        pool = self.target.describe_user_pool(UserPoolId=self.target_pool)["UserPool"]
        if not pool.get("LambdaConfig", {}).get("UserMigration"):
            return self._fail(f"target pool {self.target_pool} has no Migrate user trigger")
        before = _get_user(self.target, self.target_pool, name)
        self.evidence["in_target_before"] = before is not None
        if before is not None and before.get("UserStatus") == "FORCE_CHANGE_PASSWORD":
            return self._fail(
                f"canary {name} is already in the target with a temporary password "
                "(created by hand or force-migrated): the trigger cannot be exercised",
                [f"delete it from the target pool {self.target_pool}, then run this again"],
            )

        try:
            answer = self.target.initiate_auth(
                ClientId=self.params.target_client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": name, "PASSWORD": self._password},
            )
        except ClientError as exc:
            return self._refused(exc)
        challenge = answer.get("ChallengeName")
        signed_in = "AuthenticationResult" in answer  # the tokens are never kept
        self.evidence.update(signed_in=signed_in, challenge=challenge)
        if challenge == "NEW_PASSWORD_REQUIRED":
            return self._fail(
                f"canary {name} must set a new password at sign-in to the target",
                [
                    "migrated users would be made to change their password, which the playbook "
                    "forbids: the trigger must return finalUserStatus CONFIRMED"
                ],
            )
        if not signed_in and challenge not in MFA_CHALLENGES and challenge != "MFA_SETUP":
            return self._fail(f"sign-in to the target stopped at challenge {challenge}")

        after = _get_user(self.target, self.target_pool, name)
        if after is None:
            return self._fail(
                f"canary {name} signed in but is not in the target pool {self.target_pool}",
                ["does target_client_id belong to the target pool?"],
            )
        return self._judge(source_user, after, before, pool, challenge)

    def _judge(
        self,
        source_user: dict[str, Any],
        after: dict[str, Any],
        before: dict[str, Any] | None,
        pool: dict[str, Any],
        challenge: str | None,
    ) -> CheckResult:
        name = self.username
        cfg = self.ctx.runbook.cognito
        expected = map_attributes(
            _attributes(source_user),
            accepted_attributes(pool.get("SchemaAttributes", [])),
            case_insensitive_emails=cfg.case_insensitive_emails if cfg else True,
            default_country_code=cfg.default_country_code if cfg else None,
        ).attributes
        found = {str(a["Name"]): a.get("Value") for a in _attributes(after)}
        wrong = sorted(
            n for n, v in expected.items() if n not in NOT_COMPARED and found.get(n) != v
        )
        self.evidence.update(
            target_status=after.get("UserStatus"),
            attributes_compared=sorted(set(expected) - NOT_COMPARED),
            attributes_wrong=wrong,  # names only: the values are the user's data
        )
        details = [f"credentials from {self.evidence['credentials_from']}"]
        if wrong:
            return self._fail(
                f"canary {name} migrated, but {len(wrong)} attribute(s) differ from the source: "
                + ", ".join(wrong),
                [*details, "every migrated user would get them wrong: check the trigger's mapping"],
            )
        details.append(
            f"{len(self.evidence['attributes_compared'])} attributes as in the source "
            "(sub is the target's own)"
        )
        if before is not None:
            created = before.get("UserCreateDate")
            return CheckResult.warned(
                self._scrub(
                    f"canary {name} was already in the target: this sign-in did not go "
                    "through the trigger, so it proves the target client and password only"
                ),
                [
                    *details,
                    f"in the target since {created}" if created else "already in the target",
                    f"to prove the trigger again, delete {name} from the target pool "
                    f"{self.target_pool} and re-run this check",
                ],
                **self.evidence,
            )
        if challenge is not None:
            why = (
                "the target pool requires MFA: migrated users without MFA must set it up"
                if challenge == "MFA_SETUP"
                else "the canary has MFA in the target: the sign-in needs a code"
            )
            return CheckResult.warned(
                f"the trigger migrated canary {name}, but sign-in stopped at {challenge}",
                [*details, why, "a canary without MFA proves a whole sign-in"],
                **self.evidence,
            )
        return CheckResult.passed(
            f"canary {name} signed in to the target through the trigger and was migrated",
            [
                *details,
                "trigger, its role and external ID, and both app clients are wired",
                f"the canary now lives in the target pool {self.target_pool}",
            ],
            **self.evidence,
        )

    def _refused(self, exc: ClientError) -> CheckResult:
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", ""))
        self.evidence.update(signed_in=False, error=code)
        said = f"{code}: {message}" if message else code
        causes = {
            "NotAuthorizedException": [
                "the password is wrong (try it against the source app), or the trigger "
                "refused the canary and the client hides user-existence errors",
                "if the message is about a secret hash: this check signs in as a public "
                "client (no client secret), as a browser app does",
            ],
            "UserNotFoundException": [
                "Cognito could not migrate the user: the trigger is not attached, Cognito may "
                "not invoke it (its resource policy), it returned attributes outside the "
                "target's schema, or the canary is not in the source; see its CloudWatch logs",
            ],
            "UserLambdaValidationException": [
                "the trigger ran and refused: its role, external ID or source app client; "
                "the message is the trigger's; see its CloudWatch logs",
            ],
            "UnexpectedLambdaException": ["the trigger failed or ran out of its 5 s"],
            "InvalidLambdaResponseException": ["the trigger's answer is not one Cognito takes"],
            "InvalidParameterException": [
                "enable ALLOW_USER_PASSWORD_AUTH on the target app client"
            ],
            "PasswordResetRequiredException": [
                "the canary would have to reset its password: the playbook forbids it"
            ],
            "UserNotConfirmedException": ["the migrated canary is not confirmed in the target"],
            "ResourceNotFoundException": ["target_client_id is not an app client of the target"],
        }
        if code not in causes:  # throttling, an outage: not a finding about the wiring
            return CheckResult.errored(
                self._scrub(f"canary sign-in to the target failed ({said})"), [], **self.evidence
            )
        return self._fail(f"canary sign-in to the target refused ({said})", causes[code])
