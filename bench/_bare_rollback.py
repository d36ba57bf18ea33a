"""`python -m bench._bare_rollback ZONE NAME BATCH_FILE`: the rollback as a bare boto3 script.

What an engineer would write by hand: the same UPSERT, `get_change` until
INSYNC, and the read-back, with nothing around it (no audit, no state, no
checks). The benchmark's baseline for `runbook rollback`; never used by runbook.
"""

from __future__ import annotations

import json
import sys
import time

import boto3


def main() -> int:
    zone, name, batch_file = sys.argv[1:4]
    with open(batch_file, encoding="utf-8") as handle:
        batch = json.load(handle)
    client = boto3.client("route53")
    change = client.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=batch)
    change_id = change["ChangeInfo"]["Id"]
    while client.get_change(Id=change_id)["ChangeInfo"]["Status"] != "INSYNC":
        time.sleep(1)
    sent = [c["ResourceRecordSet"] for c in batch["Changes"]]
    found = client.list_resource_record_sets(
        HostedZoneId=zone, StartRecordName=name, StartRecordType=sent[0]["Type"], MaxItems="1"
    )["ResourceRecordSets"]
    if [rs.get("ResourceRecords") for rs in found[:1]] != [sent[0].get("ResourceRecords")]:
        print(f"read back {found}", file=sys.stderr)
        return 1
    print("rollback confirmed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
