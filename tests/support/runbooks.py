"""Builders shared by the tests: runbooks as dicts, TOML files, fixed account IDs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import tomli_w

__all__ = [
    "DNS",
    "DNS_ROLE",
    "REGION",
    "SOURCE",
    "SOURCE_ROLE",
    "TARGET",
    "base_runbook",
    "with_steps",
    "write_runbook",
]

# moto's default account is the target; the others are reached by assume-role,
# exactly as the real tool reaches the source.
TARGET = "123456789012"
SOURCE = "111111111111"
DNS = "333333333333"
REGION = "us-east-1"
SOURCE_ROLE = f"arn:aws:iam::{SOURCE}:role/runbook-read"
DNS_ROLE = f"arn:aws:iam::{DNS}:role/runbook-dns"


def base_runbook(zone_id: str = "Z0000000000000000TEST", **dns: Any) -> dict[str, Any]:
    """A small valid runbook: identity gate, lower TTL, flip."""
    return {
        "migration": {"name": "test move", "environment": "rehearsal"},
        "accounts": {
            "source": {
                "account_id": SOURCE,
                "region": REGION,
                "role_arn": SOURCE_ROLE,
                "external_id": "runbook-test",
            },
            "target": {"account_id": TARGET, "region": REGION},
        },
        "dns": {
            "account": "target",
            "zone_id": zone_id,
            "name": "app.example.com",
            "type": "A",
            "flip": {"mode": "simple", "values": ["203.0.113.10"]},
            **dns,
        },
        "steps": [
            {
                "id": "verify-accounts",
                "title": "Verify accounts",
                "phase": "prepare",
                "checks": [{"id": "identity.accounts"}],
                "action": {"kind": "none"},
            },
            {
                "id": "lower-ttl",
                "title": "Lower the TTL",
                "phase": "cutover",
                "action": {"kind": "dns.lower_ttl"},
            },
            {
                "id": "flip-dns",
                "title": "Flip DNS",
                "phase": "cutover",
                "action": {"kind": "dns.flip"},
            },
        ],
    }


def with_steps(runbook: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(runbook)
    out["steps"] = steps
    return out


def write_runbook(directory: Path, runbook: dict[str, Any], name: str = "runbook.toml") -> Path:
    path = directory / name
    path.write_text(tomli_w.dumps(runbook), encoding="utf-8")
    return path
