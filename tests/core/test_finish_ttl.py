"""`dns.restore_ttl`: the TTL goes back to the value recorded before it was lowered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records
from runbook.dns.records import read_record_sets
from runbook.state import StepStatus
from tests.support import dnsworld as w
from tests.support.dnsworld import walk
from tests.support.finishworld import (
    Crash,
    crash_after_call,
    crash_before_outcome,
    crash_hook,
    finish_runbook,
    reopen,
)

LOWER = {"id": "lower-ttl", "action": {"kind": "dns.lower_ttl"}}
FLIP = {"id": "flip-dns", "action": {"kind": "dns.flip"}}
RESTORE = {"id": "restore-ttl", "action": {"kind": "dns.restore_ttl"}}


def aaaa(ttl: int = 300) -> dict[str, Any]:
    return {
        "Name": w.NAME,
        "Type": "AAAA",
        "TTL": ttl,
        "ResourceRecords": [{"Value": "2001:db8::7"}],
    }


def txt(ttl: int = 3600) -> dict[str, Any]:
    return {"Name": w.NAME, "Type": "TXT", "TTL": ttl, "ResourceRecords": [{"Value": '"v=1"'}]}


def zone_with(*record_sets: dict[str, Any]) -> tuple[Any, str]:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, *record_sets)
    return session, zone


def ttls(session: Any, zone: str) -> dict[str, int | None]:
    found = read_record_sets(session.client("route53"), zone, w.NAME, ("A", "AAAA", "TXT"))
    return {rs["Type"]: rs.get("TTL") for rs in found}


def test_lower_flip_restore_on_every_routing_type(aws: None, tmp_path: Path) -> None:
    session, zone = zone_with(w.simple(), aaaa(), txt())
    path = finish_runbook(tmp_path, [LOWER, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    assert ttls(session, zone) == {"A": 30, "AAAA": 30, "TXT": 3600}
    outcome = engine.do("restore-ttl")
    assert outcome.ok, outcome.summary
    assert ttls(session, zone) == {"A": 300, "AAAA": 300, "TXT": 3600}  # TXT: not routing
    assert outcome.details["restored_ttl"] == 300
    assert outcome.details["restored_from"].startswith("run state")
    # The values are untouched: only the TTL changes.
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    intent = [r for r in read_records(runtime.audit.path) if r["event"] == "action.intent"][-1]
    assert intent["details"]["ttl"] == 300
    runtime.close()


def test_after_the_flip_the_targets_record_gets_the_ttl_back(aws: None, tmp_path: Path) -> None:
    session, zone = zone_with(w.simple(ttl=900))
    path = finish_runbook(tmp_path, [LOWER, FLIP, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        walk(engine, step)
    assert w.records(session, zone)[0]["TTL"] == 30
    outcome = engine.do("restore-ttl")
    assert outcome.ok, outcome.summary
    [record] = w.records(session, zone)
    assert (record["ResourceRecords"][0]["Value"], record["TTL"]) == (w.TARGET_IP, 900)
    # The flip's TTL gate reads the newest lowering: the restore records none.
    assert "lowered_at" not in outcome.details and "previous_ttl" not in outcome.details
    runtime.close()


def test_the_audit_log_is_read_when_the_run_state_lost_the_value(aws: None, tmp_path: Path) -> None:
    session, zone = zone_with(w.simple(ttl=600))
    path = finish_runbook(tmp_path, [LOWER, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    runtime.close()
    state_file = tmp_path / ".runbook" / "state.json"
    state = json.loads(state_file.read_text())
    state["dns"]["previous_ttl"] = None
    state_file.write_text(json.dumps(state))

    runtime, engine = reopen(path)
    outcome = engine.do("restore-ttl")
    assert outcome.ok, outcome.summary
    assert outcome.details["restored_from"].startswith("audit log record")
    assert w.records(session, zone)[0]["TTL"] == 600
    runtime.close()


def test_found_low_refuses_without_a_value_and_takes_an_explicit_one(
    aws: None, tmp_path: Path
) -> None:
    session, zone = zone_with(w.simple(ttl=30))
    path = finish_runbook(tmp_path, [LOWER, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    assert runtime.state.dns.ttl_found_low
    refused = engine.do("restore-ttl")
    assert not refused.ok
    assert "found the TTL already low" in refused.summary and "ttl = 300" in refused.summary
    assert w.records(session, zone)[0]["TTL"] == 30  # nothing sent
    runtime.close()

    explicit = {**RESTORE, "action": {"kind": "dns.restore_ttl", "ttl": 120}}
    path = finish_runbook(tmp_path, [LOWER, explicit], zone_id=zone)
    runtime, engine = reopen(path)
    outcome = engine.do("restore-ttl")
    assert outcome.ok, outcome.summary
    assert outcome.details["restored_from"] == "the step's `ttl` parameter"
    assert w.records(session, zone)[0]["TTL"] == 120
    runtime.close()


def test_a_set_someone_else_changed_is_left_alone_and_named(aws: None, tmp_path: Path) -> None:
    session, zone = zone_with(w.simple(), aaaa())
    path = finish_runbook(tmp_path, [LOWER, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    w.upsert(session, zone, aaaa(ttl=60))  # by hand, after the lowering
    outcome = engine.do("restore-ttl")
    assert outcome.ok, outcome.summary
    assert ttls(session, zone) == {"A": 300, "AAAA": 60}
    assert [s for s in outcome.details["left_alone"] if "TTL 60" in s]
    runtime.close()


def test_alias_records_have_no_ttl_to_restore(aws: None, tmp_path: Path) -> None:
    session, zone = zone_with(w.alias())
    before = w.records(session, zone)
    explicit = {**RESTORE, "action": {"kind": "dns.restore_ttl", "ttl": 300}}
    path = finish_runbook(tmp_path, [explicit], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    outcome = engine.do("restore-ttl")
    assert outcome.ok and "only alias records" in outcome.summary
    assert w.records(session, zone) == before
    runtime.close()


@pytest.mark.parametrize("point", ["after_send", "before_outcome"])
def test_a_crash_after_the_change_reconciles_as_restored(
    aws: None, tmp_path: Path, point: str
) -> None:
    session, zone = zone_with(w.simple(), aaaa())
    path = finish_runbook(tmp_path, [LOWER, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    if point == "after_send":
        crash_after_call(runtime, "target", "route53", "ChangeResourceRecordSets")
    else:
        crash_before_outcome(runtime)
    with pytest.raises(Crash):
        engine.do("restore-ttl")
    runtime.close()
    assert ttls(session, zone) == {"A": 300, "AAAA": 300}

    runtime, engine = reopen(path)
    [message] = engine.reconcile()
    assert "reconciled after a crash: the TTL is 300s" in message
    assert engine.status("restore-ttl") == StepStatus.DONE
    assert runtime.state.in_flight is None
    runtime.close()


def test_a_crash_before_the_change_offers_the_step_again(aws: None, tmp_path: Path) -> None:
    session, zone = zone_with(w.simple())
    path = finish_runbook(tmp_path, [LOWER, RESTORE], zone_id=zone)
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")

    crash_hook(runtime, "target", "route53", "ChangeResourceRecordSets", "before")
    with pytest.raises(Crash):
        engine.do("restore-ttl")
    runtime.close()
    assert w.records(session, zone)[0]["TTL"] == 30

    runtime, engine = reopen(path)
    [message] = engine.reconcile()
    assert "offered again" in message
    assert engine.do("restore-ttl").ok
    assert w.records(session, zone)[0]["TTL"] == 300
    runtime.close()
