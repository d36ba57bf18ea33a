"""What every part of the UserMigration Lambda shares: the deadline, refusals, pools, logs.

Standard library and botocore only: the deployed zip carries this file as
`cognito_trigger_common.py` (see `runbook.cognito.trigger.package`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("runbook.migration_lambda")

# Cognito waits 5 s for a trigger, cold start and network included.
COGNITO_TIMEOUT_S = 5.0
# Kept back from Cognito's 5 s: the Python runtime's own start on a cold start
# (not measurable from here) and the answer's way back to Cognito.
SAFETY_MARGIN_S = 0.75
CONNECT_TIMEOUT_S = 0.5  # in-region; a Lambda outside a VPC connects in milliseconds
READ_TIMEOUT_S = 1.5
# A call is only started if it can time out before the deadline: the answer is in time.
MIN_CALL_BUDGET_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S

# What the user sees (Cognito returns it in the sign-in error). Each says what to do.
BAD_CREDENTIALS = "Incorrect username or password."
CANNOT_MIGRATE = (
    "Your password is correct, but your account cannot be moved to the new sign-in "
    "automatically. Use 'Forgot password' to continue, or contact support."
)
NO_VERIFIED_CONTACT = (
    "A reset code cannot be sent: your account has no verified email address or phone "
    "number. Please contact support."
)
UNAVAILABLE = "Sign-in is temporarily unavailable; please try again."


class MigrationRefused(Exception):
    """The user is not migrated; Cognito shows the message to the user."""


class ConfigError(Exception):
    """The Lambda's environment is incomplete; names the variables, never their values."""


MFA_POLICIES = ("accept_password", "refuse")
DEFAULT_GROUP_COPY_WINDOW_S = 3600.0
# Declared by the operator in the target pool (String, mutable, readable by the app
# client): the MFA methods a migrated user must enrol again, e.g. "email,totp".
REENROL_ATTRIBUTE = "custom:mfa_reenrol"


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
    case_insensitive_emails: bool = True
    default_country_code: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LambdaConfig:
        missing = [name for name in ("OLD_USER_POOL_ID", "OLD_CLIENT_ID") if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        pool = env["OLD_USER_POOL_ID"]
        policy = env.get("MFA_POLICY") or "accept_password"
        if policy not in MFA_POLICIES:
            raise ConfigError(f"MFA_POLICY must be one of {', '.join(MFA_POLICIES)}")
        try:
            window = float(env.get("GROUP_COPY_WINDOW_S") or DEFAULT_GROUP_COPY_WINDOW_S)
        except ValueError:
            raise ConfigError("GROUP_COPY_WINDOW_S must be a number of seconds") from None
        case = (env.get("CASE_INSENSITIVE_EMAILS") or "true").strip().lower()
        if case not in ("true", "false"):
            raise ConfigError("CASE_INSENSITIVE_EMAILS must be true or false")
        country = (env.get("DEFAULT_COUNTRY_CODE") or "").strip().lstrip("+")
        if country and not (country.isdigit() and 1 <= len(country) <= 3):
            raise ConfigError("DEFAULT_COUNTRY_CODE must be 1 to 3 digits, e.g. 44")
        return cls(
            user_pool_id=pool,
            client_id=env["OLD_CLIENT_ID"],
            region=env.get("OLD_USER_POOL_REGION") or pool.split("_", 1)[0],
            role_arn=env.get("OLD_ROLE_ARN") or None,
            external_id=env.get("OLD_EXTERNAL_ID") or None,
            client_secret=env.get("OLD_CLIENT_SECRET") or None,
            mfa_policy=policy,
            group_copy_window_s=window,
            case_insensitive_emails=case == "true",
            default_country_code=country or None,
        )


class Deadline:
    """What is left of Cognito's 5 s (and of the function's own timeout).

    `spent_s` is time already used before the handler ran: the cold start's
    warm-up, which Cognito counts in its 5 s.
    """

    def __init__(self, context: Any, spent_s: float = 0.0, timeout_s: float | None = None) -> None:
        budget = (COGNITO_TIMEOUT_S if timeout_s is None else timeout_s) - spent_s
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            budget = min(budget, remaining() / 1000.0)
        self.ends = time.monotonic() + budget - SAFETY_MARGIN_S

    def left(self) -> float:
        return self.ends - time.monotonic()

    def check(self) -> None:
        if self.left() < MIN_CALL_BUDGET_S:
            raise MigrationRefused(UNAVAILABLE)


@dataclass(frozen=True)
class PoolInfo:
    """What the Lambda needs of a pool's DescribeUserPool (and GetUserPoolMfaConfig)."""

    accepted: frozenset[str] | None  # attributes it takes on creation; None: unknown
    username_attributes: frozenset[str]  # email / phone_number sign in as the username
    alias_attributes: frozenset[str]
    sms_mfa: bool = False  # SMS MFA usable: MFA ON or OPTIONAL and SMS MFA configured

    def identifies_by(self, attribute: str) -> bool:
        """Does an Admin* call find a user by this attribute's value (username or alias)?"""
        return attribute in self.username_attributes or attribute in self.alias_attributes

    @classmethod
    def from_description(
        cls,
        pool: Mapping[str, Any],
        accepted: frozenset[str] | None,
        mfa: Mapping[str, Any] | None = None,
    ) -> PoolInfo:
        sms = bool(
            mfa is not None
            and mfa.get("MfaConfiguration") in ("ON", "OPTIONAL")
            and mfa.get("SmsMfaConfiguration")
        )
        return cls(
            accepted=accepted,
            username_attributes=frozenset(pool.get("UsernameAttributes") or ()),
            alias_attributes=frozenset(pool.get("AliasAttributes") or ()),
            sms_mfa=sms,
        )


UNKNOWN_POOL = PoolInfo(None, frozenset(), frozenset())


def quiet_sdk_loggers(level: str) -> None:
    """botocore logs request bodies (the password) at DEBUG: keep it at WARNING."""
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    level = level.upper()
    log.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")


def log_event(event: str, level: int, **fields: Any) -> None:
    """One JSON line of chosen fields: never the event, the password or a token.

    The operator queries them in CloudWatch Logs Insights, e.g.
    `filter @message like '"event": "mfa_reenrol"'`.
    """
    log.log(level, json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def code_of(exc: BaseException) -> str:
    """The error code of a ClientError, else the exception's type name.

    A copy of `runbook.aws.errors.error_code` (which answers "" for anything
    else): the deployed zip cannot import `runbook`.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        return str(error.get("Code", ""))
    return type(exc).__name__
