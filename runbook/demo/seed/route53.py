"""Route 53: the zone, in the target, with the source's records (the app's at TTL 300)."""

from __future__ import annotations

import time
from typing import Any

from runbook.demo.model import DemoWorld


def _record(name: str, rtype: str, ttl: int, value: str) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": name,
            "Type": rtype,
            "TTL": ttl,
            "ResourceRecords": [{"Value": value}],
        },
    }


def seed_dns(world: DemoWorld) -> None:
    route53 = world.client("target", "route53")
    zone = route53.create_hosted_zone(
        Name=world.zone_name, CallerReference=f"runbook-demo-{time.time_ns()}"
    )["HostedZone"]
    world.zone_id = str(zone["Id"]).rsplit("/", 1)[-1]
    route53.change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Comment": "the source's records, before the cutover",
            "Changes": [
                _record(world.record_name, "A", world.record_ttl, world.source_ip),
                _record(f"www.{world.zone_name}", "CNAME", 3600, world.record_name),
                _record(f"{world.zone_name}", "TXT", 3600, '"v=spf1 -all"'),
            ],
        },
    )
