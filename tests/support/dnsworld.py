"""A hosted zone with the app record, in the target or a separate DNS account.

Also a session on the zone's account and a gate-then-act walk through one step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from runbook.aws.session import build_session
from runbook.dns.records import read_record_sets
from runbook.engine import Engine
from runbook.model import Account
from runbook.runtime import Runtime
from tests.support.runbooks import DNS, DNS_ROLE, REGION, TARGET, base_runbook, write_runbook

NAME = "app.example.com"
SOURCE_IP = "198.51.100.7"
TARGET_IP = "203.0.113.10"


def make_zone(session: boto3.Session) -> str:
    r53 = session.client("route53")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=NAME)
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def upsert(session: boto3.Session, zone: str, *record_sets: dict[str, Any]) -> None:
    session.client("route53").change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rs} for rs in record_sets]
        },
    )


def records(session: boto3.Session, zone: str) -> list[dict[str, Any]]:
    return read_record_sets(session.client("route53"), zone, NAME, "A")


def simple(ttl: int = 300, ip: str = SOURCE_IP) -> dict[str, Any]:
    return {"Name": NAME, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": ip}]}


def alias(dns_name: str = "source-alb-1.us-east-1.elb.amazonaws.com") -> dict[str, Any]:
    return {
        "Name": NAME,
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z35SXDOTRQ7X7K",
            "DNSName": dns_name,
            "EvaluateTargetHealth": False,
        },
    }


def weighted(set_id: str, weight: int, ip: str, ttl: int = 300) -> dict[str, Any]:
    return {**simple(ttl, ip), "SetIdentifier": set_id, "Weight": weight}


FLIPS: dict[str, dict[str, Any]] = {
    "simple": {"mode": "simple", "values": [TARGET_IP]},
    "alias": {
        "mode": "alias",
        "hosted_zone_id": "Z35SXDOTRQ7X7K",
        "dns_name": "target-alb-2.us-east-1.elb.amazonaws.com",
    },
    "weighted": {
        "mode": "weighted",
        "source_set_identifier": "source",
        "target_set_identifier": "target",
    },
}

INITIAL: dict[str, list[dict[str, Any]]] = {
    "simple": [simple()],
    "alias": [alias()],
    "weighted": [weighted("source", 100, SOURCE_IP), weighted("target", 0, TARGET_IP)],
}


def runbook_file(
    directory: Path,
    zone: str,
    kind: str,
    *,
    dns_account: bool = False,
    migration: dict[str, Any] | None = None,
) -> Path:
    book = base_runbook(zone_id=zone, flip=FLIPS[kind])
    book["migration"].update(migration or {})
    if dns_account:
        book["accounts"]["dns"] = {
            "account_id": DNS,
            "region": REGION,
            "role_arn": DNS_ROLE,
            "external_id": "runbook-dns",
        }
        book["dns"]["account"] = "dns"
    return write_runbook(directory, book)


def dns_session(dns_account: bool) -> Any:
    if dns_account:
        account = Account(
            account_id=DNS, region=REGION, role_arn=DNS_ROLE, external_id="runbook-dns"
        )
    else:
        account = Account(account_id=TARGET, region=REGION)
    return build_session(account, read_only=False)


def walk(engine: Engine, step: str) -> None:
    gate = engine.run_gate(step)
    assert gate.passed, [o.to_json() for o in gate.outcomes]
    outcome = engine.do(step, confirmed=True)
    assert outcome.ok, outcome.summary


def walked_run(
    directory: Path,
    steps: tuple[str, ...],
    *,
    kind: str = "simple",
    dns_account: bool = False,
    initial: list[dict[str, Any]] | None = None,
    migration: dict[str, Any] | None = None,
) -> tuple[Path, str]:
    """A run on disk whose `steps` are done, no process holding it: (runbook path, zone)."""
    session = dns_session(dns_account)
    zone = make_zone(session)
    upsert(session, zone, *(initial if initial is not None else INITIAL[kind]))
    path = runbook_file(directory, zone, kind, dns_account=dns_account, migration=migration)
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    for step in steps:
        walk(engine, step)
    runtime.close()
    return path, zone
