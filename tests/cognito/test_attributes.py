"""Attribute mapping, shared by the Lambda and force-migration; the module is stdlib-only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from runbook.cognito import attributes
from runbook.cognito.attributes import accepted_attributes, map_attributes, to_e164


@pytest.mark.parametrize(
    "raw,country,expected",
    [
        ("+15550100001", None, "+15550100001"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("+1 (555) 010-0001", None, "+15550100001"),
        ("5550100001", None, None),  # no country code and none given
        ("5550100001", "1", "+15550100001"),
        ("020 7946 0958", "44", None),  # trunk 0: country rules differ, never guessed
        ("555-0101 ext. 9", "1", None),
        ("+1234", None, None),
        ("+1234567890123456", None, None),
        ("", None, None),
    ],
)
def test_phone_numbers_to_e164(raw: str, country: str | None, expected: str | None) -> None:
    assert to_e164(raw, country) == expected


def test_mapping_drops_sub_keeps_custom_and_verified_flags() -> None:
    accepted = accepted_attributes([{"Name": "custom:tier"}, {"Name": "sub"}])
    mapped = map_attributes(
        [
            {"Name": "sub", "Value": "old"},
            {"Name": "email", "Value": "Ann@Example.com"},
            {"Name": "email_verified", "Value": "false"},
            {"Name": "phone_number", "Value": "12345"},
            {"Name": "phone_number_verified", "Value": "true"},
            {"Name": "custom:tier", "Value": "gold"},
            {"Name": "custom:gone", "Value": "x"},
        ],
        accepted,
        case_insensitive_emails=False,
    )
    assert mapped.attributes == {
        "email": "Ann@Example.com",  # case-sensitive pool: left alone
        "email_verified": "false",
        "custom:tier": "gold",
    }
    assert mapped.flags == {"phone_unfixable", "attributes_dropped"}


def test_attribute_module_imports_the_standard_library_only() -> None:
    """The Lambda's zip carries it: no boto3, no pydantic, nothing of `runbook`."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(attributes.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, ast.unparse(node)
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
