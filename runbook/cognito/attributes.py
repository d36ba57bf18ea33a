"""User attributes as a target pool will take them: shared by the Lambda and force-migration.

Standard library only. The deployed UserMigration zip carries this file beside
the handler (as `cognito_attributes.py`, see `runbook.cognito.trigger.package`),
where neither boto3's extras, pydantic nor the rest of `runbook` exist: it must
never import anything outside the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Every pool has these standard attributes (moto's DescribeUserPool lists only custom ones).
STANDARD_ATTRIBUTES = frozenset(
    {
        "address",
        "birthdate",
        "email",
        "email_verified",
        "family_name",
        "gender",
        "given_name",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "phone_number_verified",
        "picture",
        "preferred_username",
        "profile",
        "updated_at",
        "website",
        "zoneinfo",
    }
)
# Never copied: `sub` is assigned by the target pool, `identities` by federation.
NEVER_COPIED = frozenset({"sub", "identities"})


def accepted_attributes(schema: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Attribute names a pool accepts on creation, from DescribeUserPool's SchemaAttributes."""
    names = set(STANDARD_ATTRIBUTES)
    for attribute in schema:
        name = str(attribute.get("Name", ""))
        if name.startswith("custom:") or name in STANDARD_ATTRIBUTES:
            names.add(name)
    return frozenset(names - NEVER_COPIED)


def copy_attributes(
    attributes: Iterable[Mapping[str, Any]], accepted: frozenset[str] | None
) -> tuple[dict[str, str], list[str]]:
    """(attributes to create the user with, names dropped); the verified flags as they were.

    `accepted=None` (schema unknown) keeps the standard and every custom attribute.
    """
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for attribute in attributes:
        name, value = str(attribute.get("Name", "")), attribute.get("Value")
        if value is None or name in NEVER_COPIED:
            continue
        if (
            name in accepted
            if accepted is not None
            else (name in STANDARD_ATTRIBUTES or name.startswith("custom:"))
        ):
            kept[name] = str(value)
        else:
            dropped.append(name)
    return kept, dropped


_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]+$")


def to_e164(raw: str, default_country_code: str | None = None) -> str | None:
    """`raw` as +<country><number> (E.164), or None when that cannot be done safely.

    Spaces, dots, dashes, slashes and brackets go; `00` becomes `+`. A number
    without a country code only gets `default_country_code` if one is given, and
    never when it starts with a trunk `0` (whether to drop it depends on the country).
    """
    text = raw.strip()
    if not text or not _PHONE_CHARS.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif default_country_code and not digits.startswith("0"):
        digits = default_country_code.lstrip("+") + digits
    else:
        return None
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return None
    return "+" + digits


@dataclass
class MappedUser:
    attributes: dict[str, str]
    flags: set[str]


def map_attributes(
    attributes: list[Mapping[str, Any]],
    accepted: frozenset[str],
    *,
    case_insensitive_emails: bool,
    default_country_code: str | None = None,
) -> MappedUser:
    """Source attributes as the target will take them: no `sub`, `custom:` kept,
    phone numbers E.164 (dropped with its verified flag if impossible), emails
    lower-cased for a case-insensitive pool; verified flags as they were."""
    kept, dropped = copy_attributes(attributes, accepted)
    flags: set[str] = {"attributes_dropped"} if dropped else set()
    phone = kept.get("phone_number")
    if phone is not None:
        normal = to_e164(phone, default_country_code)
        if normal is None:
            kept.pop("phone_number")
            kept.pop("phone_number_verified", None)
            flags.add("phone_unfixable")
        elif normal != phone:
            kept["phone_number"] = normal
            flags.add("phone_normalized")
    email = kept.get("email")
    if case_insensitive_emails and email is not None and email != email.lower():
        kept["email"] = email.lower()
        flags.add("email_lowercased")
    return MappedUser(kept, flags)


def verified_contact(attributes: Mapping[str, str]) -> bool:
    """A verified email or phone number to send a reset code to."""
    return (attributes.get("email_verified") == "true" and bool(attributes.get("email"))) or (
        attributes.get("phone_number_verified") == "true" and bool(attributes.get("phone_number"))
    )


def sub_of(attributes: Iterable[Mapping[str, Any]] | None) -> str:
    """The `sub` in a list of {Name, Value} attributes, or ""."""
    for attribute in attributes or []:
        if attribute.get("Name") == "sub":
            return str(attribute.get("Value", ""))
    return ""
