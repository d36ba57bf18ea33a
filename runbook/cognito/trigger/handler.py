"""The UserMigration Lambda: moves a user from the source pool at their first sign-in.

Deployed in the target account (`runbook lambda package` builds the zip with
`runbook.cognito.trigger.package`; this file is its `lambda_function.py`, so the
handler is `lambda_function.handler`) and attached to the target pool twice:

- as the *Migrate user* trigger. On `UserMigration_Authentication` it assumes
  the source account's role (with its external ID), checks the password with
  `AdminInitiateAuth` (`ADMIN_USER_PASSWORD_AUTH`) and answers with the user's
  attributes; on `UserMigration_ForgotPassword` it answers with the attributes
  of a user who exists in the source, so the reset code can be sent.
- as the *Post authentication* trigger, to copy group memberships: Cognito only
  creates the user after the migration trigger has returned, so groups can be
  added at the first sign-in that follows, and only then.

Configuration is the environment the `cognito.migration_trigger` check reads:
OLD_USER_POOL_ID, OLD_CLIENT_ID, OLD_ROLE_ARN, OLD_EXTERNAL_ID,
OLD_USER_POOL_REGION, plus OLD_CLIENT_SECRET (only if the source app client has
a secret), MFA_POLICY (`refuse`, the default, or `accept_password`, as the
runbook's `cognito.mfa_challenge`: see `decide`), GROUP_COPY_WINDOW_S and LOG_LEVEL.

The function's role needs sts:AssumeRole on OLD_ROLE_ARN and, on the target pool,
cognito-idp:DescribeUserPool, AdminGetUser, AdminListGroupsForUser and
AdminAddUserToGroup; the source role needs AdminInitiateAuth, AdminGetUser and
AdminListGroupsForUser on the source pool. Give the function a timeout of 5 s.

It runs in AWS Lambda with the standard library and boto3 only (no pydantic,
so it cannot import the rest of `runbook`), and has no side effects at import.
Its one companion is the standard-library-only attribute module, which the zip
carries beside it as `cognito_attributes.py` (`runbook.cognito.attributes` in
the repository). Nothing in `runbook` imports this module: the packager reads
it as a file. It never logs the password, tokens or the event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING or __package__:  # the repository: runbook.cognito.trigger.handler
    from ..attributes import accepted_attributes, copy_attributes
else:  # the deployed zip: lambda_function.py with cognito_attributes.py beside it
    from cognito_attributes import accepted_attributes, copy_attributes

log = logging.getLogger("runbook.migration_lambda")

# Cognito waits 5 s for a trigger, network included; keep a margin for it.
COGNITO_TIMEOUT_S = 5.0
SAFETY_MARGIN_S = 0.5
CONNECT_TIMEOUT_S = 0.5  # in-region; a Lambda outside a VPC connects in milliseconds
READ_TIMEOUT_S = 1.5
# A call is only started if it can time out before the deadline: the answer is in time.
MIN_CALL_BUDGET_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S
CREDENTIAL_MARGIN_S = 300.0  # refresh assumed-role credentials this long before expiry
SCHEMA_TTL_S = 900.0
DEFAULT_GROUP_COPY_WINDOW_S = 3600.0

MFA_POLICIES = ("refuse", "accept_password")
# Cognito asks for these only after the password was verified.
MFA_CHALLENGES = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE"})

BAD_CREDENTIALS = "Incorrect username or password."
UNAVAILABLE = "Sign-in is temporarily unavailable; please try again."

# One attempt per call: the deadline, not botocore, decides whether there is time for
# another, and a retried password check could count a wrong password twice towards
# the source's lockout. The user's app retries a failed sign-in anyway.
_CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": 1},
)


class MigrationRefused(Exception):
    """The user is not migrated; Cognito shows the message to the user, so it stays generic."""


class ConfigError(Exception):
    """The Lambda's environment is incomplete; names the variables, never their values."""


@dataclass(frozen=True)
class LambdaConfig:
    user_pool_id: str
    client_id: str
    region: str
    role_arn: str | None
    external_id: str | None
    client_secret: str | None
    mfa_policy: str
    group_copy_window_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LambdaConfig:
        missing = [name for name in ("OLD_USER_POOL_ID", "OLD_CLIENT_ID") if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        pool = env["OLD_USER_POOL_ID"]
        policy = env.get("MFA_POLICY", "refuse") or "refuse"
        if policy not in MFA_POLICIES:
            raise ConfigError(f"MFA_POLICY must be one of {', '.join(MFA_POLICIES)}")
        try:
            window = float(env.get("GROUP_COPY_WINDOW_S") or DEFAULT_GROUP_COPY_WINDOW_S)
        except ValueError:
            raise ConfigError("GROUP_COPY_WINDOW_S must be a number of seconds") from None
        return cls(
            user_pool_id=pool,
            client_id=env["OLD_CLIENT_ID"],
            region=env.get("OLD_USER_POOL_REGION") or pool.split("_", 1)[0],
            role_arn=env.get("OLD_ROLE_ARN") or None,
            external_id=env.get("OLD_EXTERNAL_ID") or None,
            client_secret=env.get("OLD_CLIENT_SECRET") or None,
            mfa_policy=policy,
            group_copy_window_s=window,
        )


# --- the client factory -------------------------------------------------------

_lock = threading.Lock()
_clients: dict[tuple[str, ...], tuple[Any, float]] = {}  # -> (client, credentials expiry)
_schemas: dict[str, tuple[frozenset[str], float]] = {}  # target pool -> (accepted, read at)


def _client(which: str, config: LambdaConfig) -> Any:
    """The Lambda's one client factory: nothing else in this module creates a client.

    The project creates clients only in `runbook.aws.SessionFactory`; this module
    is deployed on its own, where that factory cannot be imported (pydantic), so
    this function stands in for it.

    `source`: cognito-idp in the source account through the assumed role, with
    its external ID; the credentials live in the execution environment and are
    reused across invocations until 5 minutes before they expire. `target`:
    cognito-idp with the function's own role. Both have short timeouts so an
    answer comes well inside Cognito's 5 s. Built from a plain boto3 session, so
    the usual environment (AWS_ENDPOINT_URL, AWS_REGION) applies.
    """
    key = (which, config.region, config.role_arn or "", config.external_id or "")
    with _lock:
        cached = _clients.get(key)
        if cached is not None and time.time() < cached[1] - CREDENTIAL_MARGIN_S:
            return cached[0]
        session = boto3.session.Session()
        expires = float("inf")
        if which == "target":
            client = session.client("cognito-idp", config=_CLIENT_CONFIG)
        elif config.role_arn is None:  # same-account migration: the function's own role
            client = session.client("cognito-idp", region_name=config.region, config=_CLIENT_CONFIG)
        else:
            extra = {"ExternalId": config.external_id} if config.external_id else {}
            creds = session.client("sts", config=_CLIENT_CONFIG).assume_role(
                RoleArn=config.role_arn,
                RoleSessionName="cognito-user-migration",
                DurationSeconds=3600,
                **extra,
            )["Credentials"]
            expires = creds["Expiration"].timestamp()
            client = session.client(
                "cognito-idp",
                region_name=config.region,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                config=_CLIENT_CONFIG,
            )
        _clients[key] = (client, expires)
        return client


def reset_cache() -> None:
    """Forget cached clients and schemas (tests; a new execution environment starts empty)."""
    with _lock:
        _clients.clear()
        _schemas.clear()


def _accepted_for(pool_id: str, config: LambdaConfig, deadline: Deadline) -> frozenset[str] | None:
    """The target pool's schema, read once per execution environment (and TTL)."""
    cached = _schemas.get(pool_id)
    if cached is not None and time.monotonic() - cached[1] < SCHEMA_TTL_S:
        return cached[0]
    try:
        deadline.check()
        schema = _client("target", config).describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except (ClientError, BotoCoreError) as exc:
        # Unknown schema: copy everything plausible. A custom attribute the target
        # lacks then fails this sign-in visibly rather than losing data silently.
        _log("schema_unreadable", logging.WARNING, code=_code(exc))
        return None
    accepted = accepted_attributes(schema.get("SchemaAttributes", []))
    with _lock:
        _schemas[pool_id] = (accepted, time.monotonic())
    return accepted


def _target_attributes(
    user: Mapping[str, Any], event: Mapping[str, Any], config: LambdaConfig, deadline: Deadline
) -> dict[str, str]:
    accepted = _accepted_for(str(event.get("userPoolId", "")), config, deadline)
    kept, dropped = copy_attributes(user.get("UserAttributes", []), accepted)
    if dropped:
        _log("attributes_dropped", logging.INFO, names=sorted(dropped))
    return kept


# --- the handler ----------------------------------------------------------------


class Deadline:
    """What is left of Cognito's 5 s (and of the function's own timeout)."""

    def __init__(self, context: Any) -> None:
        budget = COGNITO_TIMEOUT_S
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            budget = min(budget, remaining() / 1000.0)
        self.ends = time.monotonic() + budget - SAFETY_MARGIN_S

    def check(self) -> None:
        if self.ends - time.monotonic() < MIN_CALL_BUDGET_S:
            raise MigrationRefused(UNAVAILABLE)


@dataclass(frozen=True)
class Decision:
    migrate: bool
    final_status: str | None = None
    enable_sms_mfa: bool = False
    reason: str = ""


def decide(response: Mapping[str, Any], mfa_policy: str) -> Decision:
    """Did AdminInitiateAuth really authenticate? A challenge is a successful response too.

    MFA challenges come only after the password was verified: `accept_password`
    migrates on the password alone (the second factor is not checked; TOTP
    secrets cannot be carried over, SMS MFA is re-enabled in the target when the
    phone number moves with the user); `refuse` leaves the user to
    force-migration. NEW_PASSWORD_REQUIRED migrates with a password reset.
    Any other challenge is refused.
    """
    if response.get("AuthenticationResult"):
        return Decision(True, "CONFIRMED", reason="authenticated")
    challenge = str(response.get("ChallengeName", ""))
    if challenge == "NEW_PASSWORD_REQUIRED":
        return Decision(True, "RESET_REQUIRED", reason=challenge)
    if challenge in MFA_CHALLENGES:
        if mfa_policy == "accept_password":
            return Decision(True, "CONFIRMED", challenge == "SMS_MFA", reason=challenge)
        return Decision(False, reason=f"{challenge} refused by MFA_POLICY")
    return Decision(False, reason=f"unsupported challenge {challenge or 'none'}")


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    digest = hmac.new(
        client_secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point for the Migrate user and Post authentication triggers."""
    _quiet_sdk_loggers()
    deadline = Deadline(context)
    trigger = str(event.get("triggerSource", ""))
    try:
        config = LambdaConfig.from_env(os.environ)
    except ConfigError as exc:
        _log("misconfigured", logging.ERROR, trigger=trigger, error=str(exc))
        if trigger.startswith("PostAuthentication"):
            return event  # never block a sign-in over group copying
        raise MigrationRefused(UNAVAILABLE) from None
    if trigger == "UserMigration_Authentication":
        return _guarded(_migrate_on_sign_in, event, config, deadline)
    if trigger == "UserMigration_ForgotPassword":
        return _guarded(_migrate_on_forgot_password, event, config, deadline)
    if trigger == "PostAuthentication_Authentication":
        return _copy_groups(event, config, deadline)
    _log("ignored", logging.INFO, trigger=trigger)
    return event


def _guarded(fn: Any, event: dict[str, Any], config: LambdaConfig, deadline: Deadline) -> Any:
    """Anything unexpected becomes a generic refusal: no traceback carries request data."""
    try:
        return fn(event, config, deadline)
    except MigrationRefused:
        raise
    except Exception as exc:
        _log("error", logging.ERROR, error=type(exc).__name__, code=_code(exc))
        raise MigrationRefused(UNAVAILABLE) from None


def _migrate_on_sign_in(
    event: dict[str, Any], config: LambdaConfig, deadline: Deadline
) -> dict[str, Any]:
    username = str(event.get("userName", ""))
    password = (event.get("request") or {}).get("password")
    if not username or not password:
        raise MigrationRefused(BAD_CREDENTIALS)
    parameters = {"USERNAME": username, "PASSWORD": str(password)}
    if config.client_secret:
        parameters["SECRET_HASH"] = secret_hash(username, config.client_id, config.client_secret)
    deadline.check()
    source = _client("source", config)
    deadline.check()
    try:
        response = source.admin_initiate_auth(
            UserPoolId=config.user_pool_id,
            ClientId=config.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters=parameters,
        )
        # Only the decision is kept: the response holds tokens or a session.
        decision = decide(response, config.mfa_policy)
    except ClientError as exc:
        code = _code(exc)
        if code == "PasswordResetRequiredException":
            # The source already demands a reset: the password does not matter.
            decision = Decision(True, "RESET_REQUIRED", reason=code)
        elif code in (
            "NotAuthorizedException",
            "UserNotFoundException",
            "UserNotConfirmedException",
        ):
            _log("refused", logging.INFO, username=username, reason=code)
            raise MigrationRefused(BAD_CREDENTIALS) from None
        else:
            raise
    if not decision.migrate:
        _log("refused", logging.INFO, username=username, reason=decision.reason)
        raise MigrationRefused(BAD_CREDENTIALS)

    user = _source_user(source, username, config, deadline)
    attributes = _target_attributes(user, event, config, deadline)
    response_fields: dict[str, Any] = {
        "userAttributes": attributes,
        "finalUserStatus": decision.final_status,
        "messageAction": "SUPPRESS",
    }
    if decision.enable_sms_mfa and "phone_number" in attributes:
        response_fields["enableSMSMFA"] = True
    event.setdefault("response", {}).update(response_fields)
    _log(
        "migrated",
        logging.INFO,
        username=username,
        status=decision.final_status,
        reason=decision.reason,
        attributes=len(attributes),
    )
    return event


def _migrate_on_forgot_password(
    event: dict[str, Any], config: LambdaConfig, deadline: Deadline
) -> dict[str, Any]:
    username = str(event.get("userName", ""))
    if not username:
        raise MigrationRefused(BAD_CREDENTIALS)
    deadline.check()
    source = _client("source", config)
    user = _source_user(source, username, config, deadline)
    if user.get("UserStatus") == "EXTERNAL_PROVIDER":
        raise MigrationRefused(BAD_CREDENTIALS)  # federated: no password to reset
    attributes = _target_attributes(user, event, config, deadline)
    if not any(
        attributes.get(flag) == "true" for flag in ("email_verified", "phone_number_verified")
    ):
        # Cognito can only send the reset code to a verified address.
        _log("no_verified_contact", logging.WARNING, username=username)
    event.setdefault("response", {}).update(
        {"userAttributes": attributes, "messageAction": "SUPPRESS"}
    )
    _log("migrated", logging.INFO, username=username, status="RESET_REQUIRED", reason="forgot")
    return event


def _source_user(
    source: Any, username: str, config: LambdaConfig, deadline: Deadline
) -> dict[str, Any]:
    deadline.check()
    try:
        user: dict[str, Any] = source.admin_get_user(
            UserPoolId=config.user_pool_id, Username=username
        )
    except ClientError as exc:
        if _code(exc) == "UserNotFoundException":
            _log("refused", logging.INFO, username=username, reason="UserNotFoundException")
            raise MigrationRefused(BAD_CREDENTIALS) from None
        raise
    if not user.get("Enabled", True):
        _log("refused", logging.INFO, username=username, reason="disabled in the source")
        raise MigrationRefused(BAD_CREDENTIALS)
    return user


def _copy_groups(event: dict[str, Any], config: LambdaConfig, deadline: Deadline) -> dict[str, Any]:
    """Post authentication: add a just-migrated user to their source groups.

    Only within GROUP_COPY_WINDOW_S of the user's creation in the target and only
    when the user is in no group there, so a membership an administrator removed
    later is not put back. Never fails the sign-in.
    """
    pool, username = str(event.get("userPoolId", "")), str(event.get("userName", ""))
    try:
        target = _client("target", config)
        deadline.check()
        created = target.admin_get_user(UserPoolId=pool, Username=username)["UserCreateDate"]
        if time.time() - created.timestamp() > config.group_copy_window_s:
            return event
        if _groups(target, pool, username, deadline):
            return event
        wanted = _groups(_client("source", config), config.user_pool_id, username, deadline)
        for group in sorted(wanted):
            deadline.check()
            try:
                target.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                _log("group_missing", logging.WARNING, username=username, group=group)
        if wanted:
            _log("groups_copied", logging.INFO, username=username, groups=sorted(wanted))
    except Exception as exc:
        _log("groups_not_copied", logging.WARNING, username=username, code=_code(exc))
    return event


def _groups(client: Any, pool: str, username: str, deadline: Deadline) -> set[str]:
    groups: set[str] = set()
    kwargs: dict[str, Any] = {"UserPoolId": pool, "Username": username, "Limit": 60}
    while True:
        deadline.check()
        try:
            page = client.admin_list_groups_for_user(**kwargs)
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                return groups
            raise
        groups.update(g["GroupName"] for g in page.get("Groups", []))
        if not page.get("NextToken"):
            return groups
        kwargs["NextToken"] = page["NextToken"]


# --- logging ------------------------------------------------------------------


def _quiet_sdk_loggers() -> None:
    """botocore logs request bodies (the password) at DEBUG: keep it at WARNING."""
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    log.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")


def _log(event: str, level: int, **fields: Any) -> None:
    """One JSON line of chosen fields: never the event, the password or a token."""
    log.log(level, json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def _code(exc: BaseException) -> str:
    """The error code of a ClientError, else the exception's type name.

    A copy of `runbook.aws.errors.error_code` (which answers "" for anything
    else): the deployed zip cannot import `runbook`.
    """
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__
