"""Force-migrating one user: create it in the target, add its groups, require a reset.

`AdminCreateUser` (`MessageAction=SUPPRESS`, a random temporary password nobody
sees), the user's groups, then a random permanent password and
`AdminResetUserPassword`, which leaves it `RESET_REQUIRED`. A user with no
verified email or phone stays `FORCE_CHANGE_PASSWORD`. A disabled source user
is disabled in the target too. Every step is safe to repeat, and a user found
in the target is only finished when the journal shows this run created it.
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

    @classmethod
    def of(cls, user: Mapping[str, Any], *, ours: bool, fresh: bool) -> _Created:
        attributes = user.get("UserAttributes", user.get("Attributes"))
        return cls(sub_of(attributes), str(user.get("UserStatus", "")), ours, fresh)


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
            groups = sorted(self._source_groups(username)) if self.source_has_groups else []
            if self.mfa_possible and self._uses_totp(username):
                mapped.flags.add("totp")
            if not user.get("Enabled", True):
                mapped.flags.add("disabled")
            if self.dry_run:
                operation = "admin_get_user"
                existing = self._target_user(username)
                if existing is not None:
                    return Row(
                        username,
                        old_sub,
                        sub_of(existing.get("UserAttributes")),
                        "existing",
                        [],
                        set(),
                    )
                if verified_contact(mapped.attributes):
                    mapped.flags.add("reset_required")
                else:
                    mapped.flags.add("no_verified_contact")
                return Row(username, old_sub, "", "would_create", groups, mapped.flags)
            assert journal is not None
            operation = "admin_create_user"
            created = self._create(username, mapped, begun_at, journal)
            if not created.ours:
                return Row(username, old_sub, created.sub, "existing", [], set())
        except ClientError as exc:
            raise UserFailed(username, operation, error_code(exc), _message(exc)) from None
        new_sub = created.sub
        try:
            self._finish(username, groups, mapped, created.status)
        except ClientError as exc:
            rolled_back = created.fresh and self._delete(username)
            raise UserFailed(
                username,
                exc.operation_name,
                error_code(exc),
                _message(exc),
                partial=not rolled_back,
            ) from None
        return Row(username, old_sub, new_sub, "created", groups, mapped.flags)

    def _source_groups(self, username: str) -> set[str]:
        groups: set[str] = set()
        kwargs: dict[str, Any] = {"UserPoolId": self.source_pool, "Username": username, "Limit": 60}
        while True:
            page = self.source("admin_list_groups_for_user", **kwargs)
            groups.update(g["GroupName"] for g in page.get("Groups", []))
            if not page.get("NextToken"):
                return groups
            kwargs["NextToken"] = page["NextToken"]

    def _uses_totp(self, username: str) -> bool:
        try:
            user = self.source("admin_get_user", UserPoolId=self.source_pool, Username=username)
        except ClientError as exc:
            if error_code(exc) == "UserNotFoundException":
                return False  # deleted since it was listed
            raise
        return "SOFTWARE_TOKEN_MFA" in user.get("UserMFASettingList", [])

    def _target_user(self, username: str) -> dict[str, Any] | None:
        try:
            return self.target("admin_get_user", UserPoolId=self.target_pool, Username=username)
        except ClientError as exc:
            if error_code(exc) == "UserNotFoundException":
                return None
            raise

    def _create(
        self, username: str, mapped: MappedUser, begun_at: float | None, journal: AppendOnlyFile
    ) -> _Created:
        """Create the user, or tell this run's user (finish it) from someone else's (skip it).

        `begun_at` is set when this user was begun before a crash.
        """
        if begun_at is not None:
            existing = self._target_user(username)
            if existing is not None:
                return _Created.of(existing, ours=_created_since(existing, begun_at), fresh=False)
        begun_at = time.time()
        journal.append(begin_line(username, begun_at), sync=True)
        try:
            response = self.target(
                "admin_create_user",
                UserPoolId=self.target_pool,
                Username=username,
                UserAttributes=[{"Name": k, "Value": v} for k, v in mapped.attributes.items()],
                TemporaryPassword=random_password(self.password_min),
                MessageAction="SUPPRESS",
            )
        except ClientError as exc:
            if error_code(exc) != "UsernameExistsException":
                raise
            existing = self._target_user(username)
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
        """Groups, then the password state, then disabling: every step safe to repeat."""
        for group in groups:
            self.target(
                "admin_add_user_to_group",
                UserPoolId=self.target_pool,
                Username=username,
                GroupName=group,
            )
        if verified_contact(mapped.attributes):
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
        if "disabled" in mapped.flags:
            self.target("admin_disable_user", UserPoolId=self.target_pool, Username=username)

    def _delete(self, username: str) -> bool:
        """Undo a half-made user so the next pass creates it whole."""
        try:
            self.target("admin_delete_user", UserPoolId=self.target_pool, Username=username)
        except ClientError:
            return False
        return True
