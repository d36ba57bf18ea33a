"""The UserMigration Lambda: moves a user from the source pool at their first sign-in.

Deployed in the target account (`runbook lambda package` builds the zip with
`runbook.cognito.trigger.package`; this file is its `lambda_function.py`, so the
handler is `lambda_function.handler`) and attached to the target pool twice:

- as the *Migrate user* trigger (`migration`, in the zip `cognito_migration.py`).
  On `UserMigration_Authentication` it finds the user in the source (AdminGetUser,
  by what they typed: username, email or phone number), checks the password with
  one `AdminInitiateAuth` (`ADMIN_USER_PASSWORD_AUTH`) through the source
  account's role and answers with the user's attributes. MFA users with the
  right password are migrated (see `migration` for SMS kept, TOTP and email OTP
  flagged in `custom:mfa_reenrol` and logged as `mfa_reenrol`). On
  `UserMigration_ForgotPassword` it answers with the attributes of a source user
  who has a verified email or phone number, so the reset code can reach them.
- as the *Post authentication* trigger (`groups`, `cognito_groups.py`), to copy
  group memberships: Cognito only creates the user after the migration trigger
  has returned, so groups are added at the first sign-in that follows.

Configuration is the environment the `cognito.migration_trigger` check reads:
OLD_USER_POOL_ID, OLD_CLIENT_ID, OLD_ROLE_ARN, OLD_EXTERNAL_ID,
OLD_USER_POOL_REGION, plus OLD_CLIENT_SECRET (only if the source app client has
a secret), MFA_POLICY (`accept_password`, the default, or `refuse`: see
`migration`), CASE_INSENSITIVE_EMAILS (`true`, the default, as the runbook's
`cognito.case_insensitive_emails`: emails are looked up and stored lower-case),
DEFAULT_COUNTRY_CODE (digits, for phone numbers stored without one, as
force-migration's), GROUP_COPY_WINDOW_S and LOG_LEVEL.

The target pool should declare the custom attribute `mfa_reenrol` (String,
mutable, readable by the app client): without it the users to re-enrol are only
in the `mfa_reenrol` log lines.

The function's role needs sts:AssumeRole on OLD_ROLE_ARN and, on the target pool,
cognito-idp:DescribeUserPool, GetUserPoolMfaConfig, AdminGetUser,
AdminListGroupsForUser and AdminAddUserToGroup; the source role needs
DescribeUserPool, AdminGetUser, ListUsers, AdminInitiateAuth and
AdminListGroupsForUser on the source pool. Give the function a timeout of 5 s.

Cognito gives the trigger 5 s, cold start included, and retries a timeout (each
retry a password attempt against the source's lockout counter): the clients and
the source pool's description are built in Lambda's init phase, the pools'
descriptions are cached per execution environment, every call is started only
if it can time out before the deadline, and AdminInitiateAuth is called at most
once per invocation, never retried.

It runs in AWS Lambda with the standard library and boto3 only (no pydantic,
so it cannot import the rest of `runbook`). Its companions are the modules
beside it in the zip (`runbook.cognito.attributes` as `cognito_attributes.py`,
and this package's `common`, `migration` and `groups`). Nothing in `runbook`
imports this module: the packager reads it as a file. Outside Lambda, importing
it has no side effects. It never logs the password, tokens or the event.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING or __package__:  # the repository: runbook.cognito.trigger.handler
    from ..attributes import accepted_attributes
    from .common import (
        BAD_CREDENTIALS,
        CANNOT_MIGRATE,
        CONNECT_TIMEOUT_S,
        MIN_CALL_BUDGET_S,
        NO_VERIFIED_CONTACT,
        READ_TIMEOUT_S,
        UNAVAILABLE,
        UNKNOWN_POOL,
        ConfigError,
        Deadline,
        LambdaConfig,
        MigrationRefused,
        PoolInfo,
        code_of,
        log_event,
        quiet_sdk_loggers,
    )
    from .groups import copy_groups
    from .migration import decide, migrate_on_forgot_password, migrate_on_sign_in, secret_hash
else:  # the deployed zip: lambda_function.py with its companions beside it
    from cognito_attributes import accepted_attributes
    from cognito_groups import copy_groups
    from cognito_migration import (
        decide,
        migrate_on_forgot_password,
        migrate_on_sign_in,
        secret_hash,
    )
    from cognito_trigger_common import (
        BAD_CREDENTIALS,
        CANNOT_MIGRATE,
        CONNECT_TIMEOUT_S,
        MIN_CALL_BUDGET_S,
        NO_VERIFIED_CONTACT,
        READ_TIMEOUT_S,
        UNAVAILABLE,
        UNKNOWN_POOL,
        ConfigError,
        Deadline,
        LambdaConfig,
        MigrationRefused,
        PoolInfo,
        code_of,
        log_event,
        quiet_sdk_loggers,
    )

__all__ = [
    "BAD_CREDENTIALS",
    "CANNOT_MIGRATE",
    "MIN_CALL_BUDGET_S",
    "NO_VERIFIED_CONTACT",
    "UNAVAILABLE",
    "LambdaConfig",
    "MigrationRefused",
    "decide",
    "handler",
    "reset_cache",
    "secret_hash",
    "warm",
]

COGNITO_TIMEOUT_S = 5.0  # Cognito's wait for the trigger (tests lengthen it)
CREDENTIAL_MARGIN_S = 300.0  # refresh assumed-role credentials this long before expiry
POOL_TTL_S = 900.0  # a pool's description is read again after this long

# One attempt per call: the deadline, not botocore, decides whether there is time for
# another, and a retried password check could count a wrong password twice towards
# the source's lockout. The user's app retries a failed sign-in anyway.
_CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": 1},
)


# --- the client factory -------------------------------------------------------

_lock = threading.Lock()
_clients: dict[tuple[str, ...], tuple[Any, float]] = {}  # -> (client, credentials expiry)
_pools: dict[tuple[str, str], tuple[PoolInfo, float]] = {}  # (which, pool) -> (info, read at)
_warm_cost_s = 0.0  # the init phase's warm-up, charged to the first invocation


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
    """Forget cached clients and pools (tests; a new execution environment starts empty)."""
    global _warm_cost_s
    with _lock:
        _clients.clear()
        _pools.clear()
        _warm_cost_s = 0.0


def _pool_info(which: str, client: Any, pool_id: str, deadline: Deadline) -> PoolInfo:
    """A pool's description, read once per execution environment (and POOL_TTL_S).

    Unreadable: UNKNOWN_POOL, not cached (every custom attribute is copied, and
    a custom attribute the target lacks then fails this sign-in visibly rather
    than losing data silently; SMS MFA is not kept but flagged for re-enrolment).
    """
    cached = _pools.get((which, pool_id))
    if cached is not None and time.monotonic() - cached[1] < POOL_TTL_S:
        return cached[0]
    deadline.check()
    try:
        pool = client.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except (ClientError, BotoCoreError) as exc:
        log_event("pool_unreadable", logging.WARNING, pool=which, code=code_of(exc))
        return UNKNOWN_POOL
    mfa: dict[str, Any] | None = None
    if which == "target":  # only the target's MFA matters: can it send SMS MFA?
        deadline.check()
        try:
            mfa = client.get_user_pool_mfa_config(UserPoolId=pool_id)
        except (ClientError, BotoCoreError) as exc:
            log_event("mfa_config_unreadable", logging.WARNING, code=code_of(exc))
    accepted = accepted_attributes(pool.get("SchemaAttributes", [])) if which == "target" else None
    info = PoolInfo.from_description(pool, accepted, mfa)
    with _lock:
        _pools[(which, pool_id)] = (info, time.monotonic())
    return info


def warm(env: Any = None) -> None:
    """Lambda's init phase: the clients (AssumeRole) and the source pool's description.

    Never raises: a failure here is retried by the first invocation, in its own time.
    """
    global _warm_cost_s
    started = time.monotonic()
    try:
        config = LambdaConfig.from_env(os.environ if env is None else env)
    except ConfigError:
        return
    try:
        deadline = Deadline(None, timeout_s=COGNITO_TIMEOUT_S)
        source = _client("source", config)
        _pool_info("source", source, config.user_pool_id, deadline)
        _client("target", config)
    except Exception as exc:
        log_event("warm_up_failed", logging.WARNING, code=code_of(exc))
    finally:
        _warm_cost_s = time.monotonic() - started


# --- the handler ----------------------------------------------------------------


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point for the Migrate user and Post authentication triggers."""
    global _warm_cost_s
    quiet_sdk_loggers(os.environ.get("LOG_LEVEL", "INFO"))
    spent, _warm_cost_s = _warm_cost_s, 0.0  # a cold start's warm-up counts in Cognito's 5 s
    deadline = Deadline(context, spent_s=spent, timeout_s=COGNITO_TIMEOUT_S)
    trigger = str(event.get("triggerSource", ""))
    try:
        config = LambdaConfig.from_env(os.environ)
    except ConfigError as exc:
        log_event("misconfigured", logging.ERROR, trigger=trigger, error=str(exc))
        if trigger.startswith("PostAuthentication"):
            return event  # never block a sign-in over group copying
        raise MigrationRefused(UNAVAILABLE) from None
    if trigger == "UserMigration_Authentication":
        return _guarded(migrate_on_sign_in, event, config, deadline)
    if trigger == "UserMigration_ForgotPassword":
        return _guarded(migrate_on_forgot_password, event, config, deadline)
    if trigger == "PostAuthentication_Authentication":
        target_pool = str(event.get("userPoolId", ""))
        try:
            target = _client("target", config)
        except Exception as exc:
            log_event("groups_not_copied", logging.WARNING, code=code_of(exc))
            return event

        def pools() -> tuple[PoolInfo, PoolInfo]:
            return _both_pools(config, target_pool, deadline)

        return copy_groups(
            event, config, target, lambda: _client("source", config), pools, deadline
        )
    log_event("ignored", logging.INFO, trigger=trigger)
    return event


def _both_pools(
    config: LambdaConfig, target_pool: str, deadline: Deadline
) -> tuple[PoolInfo, PoolInfo]:
    source = _pool_info("source", _client("source", config), config.user_pool_id, deadline)
    target = _pool_info("target", _client("target", config), target_pool, deadline)
    return source, target


def _guarded(fn: Any, event: dict[str, Any], config: LambdaConfig, deadline: Deadline) -> Any:
    """Anything unexpected becomes a generic refusal: no traceback carries request data."""
    try:
        deadline.check()
        source = _client("source", config)
        pools = _both_pools(config, str(event.get("userPoolId", "")), deadline)
        return fn(event, config, source, pools, deadline)
    except MigrationRefused:
        raise
    except Exception as exc:
        log_event("error", logging.ERROR, error=type(exc).__name__, code=code_of(exc))
        raise MigrationRefused(UNAVAILABLE) from None


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # Lambda's init phase, not an import elsewhere
    warm()
