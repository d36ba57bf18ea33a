"""The Migrate user trigger's two paths: a sign-in with a password, and a forgotten password.

Standard library and boto3 only: the deployed zip carries this file as
`cognito_migration.py`. The clients come from the handler (its one factory).

MFA. A source that answers AdminInitiateAuth with an MFA challenge has verified
the password first. The second factor cannot be checked here (the user is not
in the conversation), and a TOTP secret cannot be read out of Cognito, so:

- SMS MFA stays on (`enableSMSMFA`) when the target pool can send SMS MFA and
  the phone number moves with the user: the target then asks for the code itself.
- Every other method the user had (TOTP, email OTP, or SMS the target cannot
  send) is dropped and recorded: the target user gets `custom:mfa_reenrol`
  (the methods to enrol again, comma-separated, e.g. "email,totp"; the target
  pool must declare it, String and mutable, and the app client must be allowed
  to read it) and the Lambda logs an `mfa_reenrol` line, the operator's list.
- MFA_POLICY=accept_password (the default) migrates them on the verified
  password; `refuse` migrates only those whose MFA fully moves (SMS kept) and
  tells the others their account cannot be moved automatically: they use
  Forgot password, or are force-migrated. Either way they are never told their
  right password is wrong.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING or __package__:  # the repository: runbook.cognito.trigger.migration
    from ..attributes import (
        NEVER_COPIED,
        STANDARD_ATTRIBUTES,
        map_attributes,
        verified_contact,
    )
    from .common import (
        BAD_CREDENTIALS,
        CANNOT_MIGRATE,
        NO_VERIFIED_CONTACT,
        REENROL_ATTRIBUTE,
        Deadline,
        LambdaConfig,
        MigrationRefused,
        PoolInfo,
        code_of,
        log_event,
    )
else:  # the deployed zip
    from cognito_attributes import (
        NEVER_COPIED,
        STANDARD_ATTRIBUTES,
        map_attributes,
        verified_contact,
    )
    from cognito_trigger_common import (
        BAD_CREDENTIALS,
        CANNOT_MIGRATE,
        NO_VERIFIED_CONTACT,
        REENROL_ATTRIBUTE,
        Deadline,
        LambdaConfig,
        MigrationRefused,
        PoolInfo,
        code_of,
        log_event,
    )

# Challenge (or UserMFASettingList entry) -> the method a user enrols.
MFA_METHODS = {"SMS_MFA": "sms", "SOFTWARE_TOKEN_MFA": "totp", "EMAIL_OTP": "email"}
MFA_CHALLENGES = frozenset({*MFA_METHODS, "SELECT_MFA_TYPE"})


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    digest = hmac.new(
        client_secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


# --- finding the user in the source ---------------------------------------------


def _lookup_keys(value: str, lower_emails: bool) -> list[str]:
    """`value`, then its lower-case form for an email (how force-migration compares them)."""
    keys = [value]
    if lower_emails and "@" in value and value.lower() != value:
        keys.append(value.lower())
    return keys


def find_source_user(
    source: Any,
    config: LambdaConfig,
    info: PoolInfo,
    value: str,
    deadline: Deadline,
    *,
    attribute: str | None = None,
) -> dict[str, Any] | None:
    """The source user signed in as `value` (AdminGetUser's answer), or None.

    AdminGetUser takes a username, or an email / phone number the source pool
    signs in with (UsernameAttributes) or has as an alias. `attribute` names
    what `value` is (email, phone_number) when it is not a typed username: if
    the source cannot be asked by it, ListUsers filters on it, and only one
    match counts.
    """
    by_attribute = attribute if attribute is not None else _kind_of(value)
    for key in _lookup_keys(value, config.case_insensitive_emails):
        deadline.check()
        try:
            found: dict[str, Any] = source.admin_get_user(
                UserPoolId=config.user_pool_id, Username=key
            )
            return found
        except ClientError as exc:
            if code_of(exc) != "UserNotFoundException":
                raise
    if not by_attribute or info.identifies_by(by_attribute):
        return None
    for key in _lookup_keys(value, config.case_insensitive_emails):
        deadline.check()
        escaped = key.replace("\\", "\\\\").replace('"', '\\"')
        users = source.list_users(
            UserPoolId=config.user_pool_id, Filter=f'{by_attribute} = "{escaped}"', Limit=2
        ).get("Users", [])
        if len(users) > 1:
            log_event("ambiguous", logging.WARNING, attribute=by_attribute, matches=len(users))
            return None
        if users:
            return find_source_user(
                source, config, info, str(users[0]["Username"]), deadline, attribute=None
            )
    return None


def _kind_of(value: str) -> str | None:
    if "@" in value:
        return "email"
    if value.startswith("+") and value[1:].isdigit():
        return "phone_number"
    return None


# --- the decision ---------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    migrate: bool
    final_status: str | None = None
    enable_sms_mfa: bool = False
    reenrol: frozenset[str] = field(default_factory=frozenset)
    reason: str = ""
    message: str = BAD_CREDENTIALS  # what a refused user is told


def mfa_methods(user: Mapping[str, Any], response: Mapping[str, Any]) -> frozenset[str]:
    """The MFA methods the source has for this user: the challenge, the methods it
    offered to choose from, and the user's MFA settings (AdminGetUser)."""
    names = {str(response.get("ChallengeName", ""))}
    names.update(str(n) for n in user.get("UserMFASettingList") or ())
    offered = (response.get("ChallengeParameters") or {}).get("MFAS_CAN_CHOOSE")
    if offered:
        with contextlib.suppress(TypeError, ValueError):
            names.update(str(n) for n in json.loads(offered))
    return frozenset(MFA_METHODS[n] for n in names if n in MFA_METHODS)


def decide(
    response: Mapping[str, Any],
    mfa_policy: str,
    methods: frozenset[str] = frozenset(),
    *,
    sms_kept: bool = False,
) -> Decision:
    """Did AdminInitiateAuth verify the password, and how does the user move?

    A challenge is a successful response too: "no exception" is not "authenticated".
    `sms_kept`: the target can send SMS MFA to the phone number that moves.
    """
    if response.get("AuthenticationResult"):
        return Decision(True, "CONFIRMED", reason="authenticated")
    challenge = str(response.get("ChallengeName", ""))
    if challenge == "NEW_PASSWORD_REQUIRED":
        return Decision(True, "RESET_REQUIRED", reason=challenge)
    if challenge == "MFA_SETUP":
        # The password is right and there is no second factor to carry: the
        # target's own MFA setting asks them to set one up if it requires it.
        return Decision(True, "CONFIRMED", reason=challenge)
    if challenge in MFA_CHALLENGES:
        keep_sms = sms_kept and "sms" in methods
        dropped = methods - {"sms"} if keep_sms else methods
        if not methods:  # a challenge for a method we do not know: nothing can move
            dropped = frozenset({challenge.lower()})
        if mfa_policy == "accept_password" or not dropped:
            return Decision(True, "CONFIRMED", keep_sms, dropped, reason=challenge)
        return Decision(False, reason=f"{challenge} refused by MFA_POLICY", message=CANNOT_MIGRATE)
    # The password was verified (only then does Cognito challenge), but this flow
    # cannot be finished here.
    return Decision(
        False,
        reason=f"unsupported challenge {challenge or 'none'}",
        message=(CANNOT_MIGRATE if challenge else BAD_CREDENTIALS),
    )


# --- the two paths --------------------------------------------------------------


def mapped_attributes(
    user: Mapping[str, Any], config: LambdaConfig, target: PoolInfo
) -> dict[str, str]:
    """The source user's attributes as the target takes them, like force-migration:
    emails lower-case for case-insensitive emails, phones E.164 (DEFAULT_COUNTRY_CODE)."""
    source_attributes = user.get("UserAttributes", [])
    accepted = target.accepted
    if accepted is None:  # schema unknown: the standard and every custom attribute
        names = {str(a.get("Name", "")) for a in source_attributes}
        accepted = STANDARD_ATTRIBUTES | {n for n in names if n.startswith("custom:")}
    mapped = map_attributes(
        source_attributes,
        accepted - NEVER_COPIED,
        case_insensitive_emails=config.case_insensitive_emails,
        default_country_code=config.default_country_code,
    )
    attributes = mapped.attributes
    attributes.pop(REENROL_ATTRIBUTE, None)  # the Lambda's own record, never copied
    if mapped.flags:
        log_event("attributes_mapped", logging.INFO, flags=sorted(mapped.flags))
    return attributes


def _record_mfa(
    username: str, methods: frozenset[str], attributes: dict[str, str], target: PoolInfo
) -> None:
    """Flag a user whose MFA must be enrolled again: attribute and log line."""
    if not methods:
        return
    value = ",".join(sorted(methods))
    flagged = target.accepted is not None and REENROL_ATTRIBUTE in target.accepted
    if flagged:
        attributes[REENROL_ATTRIBUTE] = value
    log_event(
        "mfa_reenrol",
        logging.WARNING,
        username=username,
        methods=sorted(methods),
        attribute=REENROL_ATTRIBUTE if flagged else None,
        note=None if flagged else f"declare {REENROL_ATTRIBUTE} in the target pool",
    )


def _usable_source_user(user: dict[str, Any] | None, username: str) -> dict[str, Any]:
    if user is None:
        log_event("refused", logging.INFO, username=username, reason="UserNotFoundException")
        raise MigrationRefused(BAD_CREDENTIALS)
    if not user.get("Enabled", True):
        log_event("refused", logging.INFO, username=username, reason="disabled in the source")
        raise MigrationRefused(BAD_CREDENTIALS)
    if user.get("UserStatus") == "EXTERNAL_PROVIDER":  # federated: no password here
        log_event("refused", logging.INFO, username=username, reason="EXTERNAL_PROVIDER")
        raise MigrationRefused(BAD_CREDENTIALS)
    return user


def migrate_on_sign_in(
    event: dict[str, Any],
    config: LambdaConfig,
    source: Any,
    pools: tuple[PoolInfo, PoolInfo],
    deadline: Deadline,
) -> dict[str, Any]:
    """UserMigration_Authentication: one AdminInitiateAuth, never more, per invocation.

    The user is looked up first (AdminGetUser: no lockout counter), so a
    disabled or unknown user never costs a password attempt, and nothing is
    left to do after the password check but answer.
    """
    source_pool, target_pool = pools
    typed = str(event.get("userName", ""))
    password = (event.get("request") or {}).get("password")
    if not typed or not password:
        raise MigrationRefused(BAD_CREDENTIALS)
    user = _usable_source_user(
        find_source_user(source, config, source_pool, typed, deadline), typed
    )
    username = str(user.get("Username") or typed)
    parameters = {"USERNAME": username, "PASSWORD": str(password)}
    if config.client_secret:
        parameters["SECRET_HASH"] = secret_hash(username, config.client_id, config.client_secret)
    attributes = mapped_attributes(user, config, target_pool)
    deadline.check()
    try:
        response = source.admin_initiate_auth(
            UserPoolId=config.user_pool_id,
            ClientId=config.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters=parameters,
        )
        # Only the decision is kept: the response holds tokens or a session.
        sms_kept = target_pool.sms_mfa and "phone_number" in attributes
        decision = decide(
            response, config.mfa_policy, mfa_methods(user, response), sms_kept=sms_kept
        )
    except ClientError as exc:
        code = code_of(exc)
        if code == "PasswordResetRequiredException":
            # The source already demands a reset: the password does not matter.
            decision = Decision(True, "RESET_REQUIRED", reason=code)
        elif code in ("NotAuthorizedException", "UserNotFoundException"):
            log_event("refused", logging.INFO, username=typed, reason=code)
            raise MigrationRefused(BAD_CREDENTIALS) from None
        elif code == "UserNotConfirmedException":
            log_event("refused", logging.INFO, username=typed, reason=code)
            raise MigrationRefused(CANNOT_MIGRATE) from None
        else:
            raise
    if not decision.migrate:
        log_event("refused", logging.INFO, username=typed, reason=decision.reason)
        if decision.message == CANNOT_MIGRATE:
            log_event("not_migrated", logging.WARNING, username=typed, reason=decision.reason)
        raise MigrationRefused(decision.message)
    _record_mfa(typed, decision.reenrol, attributes, target_pool)
    fields: dict[str, Any] = {
        "userAttributes": attributes,
        "finalUserStatus": decision.final_status,
        "messageAction": "SUPPRESS",
    }
    if decision.enable_sms_mfa:
        fields["enableSMSMFA"] = True
    event.setdefault("response", {}).update(fields)
    log_event(
        "migrated",
        logging.INFO,
        username=typed,
        status=decision.final_status,
        reason=decision.reason,
        attributes=len(attributes),
        sms_mfa=decision.enable_sms_mfa,
    )
    return event


def migrate_on_forgot_password(
    event: dict[str, Any],
    config: LambdaConfig,
    source: Any,
    pools: tuple[PoolInfo, PoolInfo],
    deadline: Deadline,
) -> dict[str, Any]:
    """UserMigration_ForgotPassword: the user's attributes, so the reset code can be sent.

    Refused without a verified email or phone number in what moves: the code
    could not reach them, and once created in the target the trigger never
    fires for them again, so the old password would be lost for good.
    """
    source_pool, target_pool = pools
    typed = str(event.get("userName", ""))
    if not typed:
        raise MigrationRefused(BAD_CREDENTIALS)
    user = _usable_source_user(
        find_source_user(source, config, source_pool, typed, deadline), typed
    )
    attributes = mapped_attributes(user, config, target_pool)
    if not verified_contact(attributes):
        log_event("no_verified_contact", logging.WARNING, username=typed)
        raise MigrationRefused(NO_VERIFIED_CONTACT)
    methods = mfa_methods(user, {})
    keep_sms = "sms" in methods and target_pool.sms_mfa and "phone_number" in attributes
    _record_mfa(typed, methods - {"sms"} if keep_sms else methods, attributes, target_pool)
    fields: dict[str, Any] = {"userAttributes": attributes, "messageAction": "SUPPRESS"}
    if keep_sms:
        fields["enableSMSMFA"] = True
    event.setdefault("response", {}).update(fields)
    log_event("migrated", logging.INFO, username=typed, status="RESET_REQUIRED", reason="forgot")
    return event
