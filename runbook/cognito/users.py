"""Force-migrating one user: create it in the target, add its groups, require a reset.

`AdminCreateUser` (`MessageAction=SUPPRESS`, a random temporary password nobody
sees), the user's groups, its SMS MFA preference, then a random permanent
password and `AdminResetUserPassword`, which leaves it `RESET_REQUIRED` and
sends the reset code. A user with no verified email or phone stays
`FORCE_CHANGE_PASSWORD`. A disabled source user is created disabled and sent
nothing. Every step is safe to repeat, and a user found in the target is only
finished when the journal shows this run created it.

The name the user is created under is the one the target pool accepts: in a
pool whose username is an email or phone number (`UsernameAttributes`), the
source `Username` is the `sub` UUID Cognito generated, and `AdminCreateUser`
needs the email or phone instead (Cognito then generates the target's own
UUID). A user without one is listed, never guessed. The journal and the sub map
stay keyed by the source username, which is what ListUsers pages hold.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code
from runbook.cognito.attributes import MappedUser, map_attributes, sub_of, verified_contact
from runbook.cognito.journal import Row, begin_line, exists_line
from runbook.cognito.pacing import Api
from runbook.durable import AppendOnlyFile

PASSWORD_SYMBOLS = "^$*.[]{}()?!@#%&_~=+-"
# A user created in the target this long before our `begin` line was not ours.
CLOCK_SKEW_S = 60.0


@dataclass
class UserFailed(Exception):
    username: str
    operation: str
    code: str
    message: str
    partial: bool = False  # created in the target but not finished


def random_password(min_length: int = 8) -> str:
    """A throwaway password meeting any Cognito policy; never stored, never logged."""
    length = min(max(32, min_length), 98)
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, PASSWORD_SYMBOLS)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in cls for c in password) for cls in classes):
            return password


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


@dataclass(frozen=True)
class _Created:
    """A user in the target: this run's (`ours`; `fresh` if created by this very call)."""

    sub: str
    status: str
    ours: bool
    fresh: bool
    username: str

    @classmethod
    def of(cls, user: Mapping[str, Any], *, ours: bool, fresh: bool) -> _Created:
        attributes = user.get("UserAttributes", user.get("Attributes"))
        status = str(user.get("UserStatus", ""))
        return cls(sub_of(attributes), status, ours, fresh, str(user.get("Username", "")))


def _created_since(user: Mapping[str, Any], begun_at: float) -> bool:
    """Created after our `begin` line (give or take clock skew): ours, not someone else's."""
    created: datetime = user["UserCreateDate"]
    return created.timestamp() >= begun_at - CLOCK_SKEW_S


@dataclass
class UserMigrator:
    """Moves one user at a time; the pool facts are filled in once both pools were read."""

    source: Api
    target: Api
    source_pool: str
    target_pool: str
    dry_run: bool
    case_insensitive_emails: bool
    default_country_code: str | None
    accepted: frozenset[str] = frozenset()
    password_min: int = 8
    source_has_groups: bool = False
    mfa_possible: bool = True
    username_attributes: tuple[str, ...] = ()
    """The target pool's `UsernameAttributes`: users are created under one of these."""
    sms_mfa_supported: bool = False
    """The target pool has MFA on or optional, and an SMS configuration to send codes."""
    sms_configured: bool = True
    """The target pool can send SMS: without it a phone is no contact for a reset code."""

    def can_reach(self, mapped: MappedUser) -> bool:
        """A verified contact the target pool can send a reset code to."""
        attributes = mapped.attributes
        if not self.sms_configured:
            attributes = {k: v for k, v in attributes.items() if not k.startswith("phone_number")}
        return verified_contact(attributes)

    def target_name(self, username: str, mapped: MappedUser) -> str | None:
        """The name the target pool accepts for this user, or None (listed, never guessed)."""
        if not self.username_attributes:
            return username
        for attribute in self.username_attributes:  # the pool's order
            value = mapped.attributes.get(attribute)
            if value and not (attribute == "phone_number" and "phone_unfixable" in mapped.flags):
                return value
        return None

    def migrate(
        self, user: Mapping[str, Any], begun_at: float | None, journal: AppendOnlyFile | None
    ) -> Row:
        """The user's sub-map row; raises UserFailed. `begun_at`: begun before a crash."""
        username = str(user["Username"])
        old_sub = sub_of(user.get("Attributes"))
        if user.get("UserStatus") == "EXTERNAL_PROVIDER":
            return Row(username, old_sub, "", "external", [], set())
        operation = "read source"
        try:
            mapped = map_attributes(
                list(user.get("Attributes", [])),
                self.accepted,
                case_insensitive_emails=self.case_insensitive_emails,
                default_country_code=self.default_country_code,
            )
            name = self.target_name(username, mapped)
            if name is None:
                return Row(username, old_sub, "", "listed", [], mapped.flags | {"no_identifier"})
            groups = sorted(self._source_groups(username)) if self.source_has_groups else []
            if self.mfa_possible:
                mapped.flags |= self._mfa_flags(username, mapped)
            if not user.get("Enabled", True):
                mapped.flags.add("disabled")
            if self.dry_run:
                operation = "admin_get_user"
                existing = self._target_user(name)
                if existing is not None:
                    return Row(
                        username,
                        old_sub,
                        sub_of(existing.get("UserAttributes")),
                        "existing",
                        [],
                        set(),
                        str(existing.get("Username", "")),
                    )
                if "disabled" not in mapped.flags:
                    reachable = self.can_reach(mapped)
                    mapped.flags.add("reset_required" if reachable else "no_verified_contact")
                return Row(username, old_sub, "", "would_create", groups, mapped.flags)
            assert journal is not None
            operation = "admin_create_user"
            created = self._create(username, name, mapped, begun_at, journal)
            if not created.ours:
                return Row(username, old_sub, created.sub, "existing", [], set(), created.username)
        except ClientError as exc:
            raise UserFailed(username, operation, error_code(exc), _message(exc)) from None
        new_sub = created.sub
        try:
            self._finish(name, groups, mapped, created.status)
        except ClientError as exc:
            rolled_back = created.fresh and self._delete(username)
            raise UserFailed(
                username,
                exc.operation_name,
                error_code(exc),
                _message(exc),
                partial=not rolled_back,
            ) from None
        return Row(username, old_sub, new_sub, "created", groups, mapped.flags, created.username)

    def _source_groups(self, username: str) -> set[str]:
        groups: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": self.source_pool, "Username": username, "Limit": 60}
        while True:
            page = self.source("admin_list_groups_for_user", **kwargs)
            groups.update(g["GroupName"] for g in page.get("Groups", []))
            if not page.get("NextToken"):
                return groups
            kwargs["NextToken"] = page["NextToken"]

    def _mfa_flags(self, username: str, mapped: MappedUser) -> set[str]:
        """`totp` (re-enrol: secrets cannot be exported), `sms_mfa` (kept) or
        `sms_mfa_dropped` (the target cannot send SMS codes, or no usable phone)."""
        try:
            user = self.source("admin_get_user", UserPoolId=self.source_pool, Username=username)
        except ClientError as exc:
            if error_code(exc) == "UserNotFoundException":
                return set()  # deleted since it was listed
            raise
        settings = set(user.get("UserMFASettingList") or [])
        flags = {"totp"} if "SOFTWARE_TOKEN_MFA" in settings else set()
        if "SMS_MFA" in settings:
            phone_ok = mapped.attributes.get("phone_number_verified") == "true"
            kept = self.sms_mfa_supported and phone_ok
            flags.add("sms_mfa" if kept else "sms_mfa_dropped")
            if kept and user.get("PreferredMfaSetting") == "SMS_MFA":
                flags.add("sms_mfa_preferred")
        return flags

    def _target_user(self, username: str) -> dict[str, Any] | None:
        try:
            return self.target("admin_get_user", UserPoolId=self.target_pool, Username=username)
        except ClientError as exc:
            if error_code(exc) == "UserNotFoundException":
                return None
            raise

    def _create(
        self,
        username: str,
        name: str,
        mapped: MappedUser,
        begun_at: float | None,
        journal: AppendOnlyFile,
    ) -> _Created:
        """Create the user as `name`, or tell this run's user (finish it) from someone
        else's (skip it). The journal is keyed by the source `username`.

        `begun_at` is set when this user was begun before a crash.
        """
        if begun_at is not None:
            existing = self._target_user(name)
            if existing is not None:
                return _Created.of(existing, ours=_created_since(existing, begun_at), fresh=False)
        begun_at = time.time()
        journal.append(begin_line(username, begun_at), sync=True)
        try:
            response = self.target(
                "admin_create_user",
                UserPoolId=self.target_pool,
                Username=name,
                UserAttributes=[{"Name": k, "Value": v} for k, v in mapped.attributes.items()],
                TemporaryPassword=random_password(self.password_min),
                MessageAction="SUPPRESS",
            )
        except ClientError as exc:
            if error_code(exc) != "UsernameExistsException":
                raise
            existing = self._target_user(name)
            if existing is None:
                raise  # deleted meanwhile: let the next pass retry it
            # Only a retry (ours or botocore's, after a timeout or throttling whose
            # request may have got through) can meet our own user: just created and still
            # FORCE_CHANGE_PASSWORD, which lazy migration never leaves. Anyone else's
            # user (lazily migrated, made by hand, an earlier pass's) is never touched.
            retried = getattr(exc, "runbook_retried", False) or (
                exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0
            )
            ours = (
                retried
                and existing["UserStatus"] == "FORCE_CHANGE_PASSWORD"
                and _created_since(existing, begun_at)
            )
            if not ours:
                journal.append(exists_line(username), sync=True)
            return _Created.of(existing, ours=ours, fresh=ours)
        return _Created.of(response["User"], ours=True, fresh=True)

    def _finish(self, username: str, groups: list[str], mapped: MappedUser, status: str) -> None:
        """Groups, SMS MFA, then disabling or the password state: each safe to repeat.

        `username` is the target's name for the user (an alias works for admin calls).
        """
        for group in groups:
            self.target(
                "admin_add_user_to_group",
                UserPoolId=self.target_pool,
                Username=username,
                GroupName=group,
            )
        if "sms_mfa" in mapped.flags:
            self.target(
                "admin_set_user_mfa_preference",
                UserPoolId=self.target_pool,
                Username=username,
                SMSMfaSettings={
                    "Enabled": True,
                    "PreferredMfa": "sms_mfa_preferred" in mapped.flags,
                },
            )
        if "disabled" in mapped.flags:
            # Created disabled and sent nothing: no reset code for an account that
            # cannot sign in. Enabling it later means an invitation or a reset.
            self.target("admin_disable_user", UserPoolId=self.target_pool, Username=username)
            return
        if self.can_reach(mapped):
            if status == "FORCE_CHANGE_PASSWORD":
                self.target(
                    "admin_set_user_password",
                    UserPoolId=self.target_pool,
                    Username=username,
                    Password=random_password(self.password_min),
                    Permanent=True,
                )
            if status != "RESET_REQUIRED":
                self.target(
                    "admin_reset_user_password", UserPoolId=self.target_pool, Username=username
                )
            mapped.flags.add("reset_required")
        else:
            mapped.flags.add("no_verified_contact")  # stays FORCE_CHANGE_PASSWORD

    def _delete(self, username: str) -> bool:
        """Undo a half-made user so the next pass creates it whole."""
        try:
            self.target("admin_delete_user", UserPoolId=self.target_pool, Username=username)
        except ClientError:
            return False
        return True
