"""Every routing record type at the cutover name moves together, or the flip is refused.

A dual-stack load balancer has an A and an AAAA alias: a flip of A alone would
leave IPv6 clients on the source and still read back "confirmed".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runbook.dns.records import read_record_sets, same_sets
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine
from runbook.runtime import Runtime
from runbook.state import StepStatus
from tests.support import dnsworld as w
from tests.support.checks import result_text, run_check
from tests.support.dnsworld import dns_session, walk
from tests.support.runbooks import base_runbook, write_runbook

SOURCE_V6 = "2001:db8::7"
TARGET_V6 = "2001:db8::10"


def aaaa_alias() -> dict[str, Any]:
    return {**w.alias(), "Type": "AAAA"}


def aaaa(ttl: int = 300, ip: str = SOURCE_V6) -> dict[str, Any]:
    return {"Name": w.NAME, "Type": "AAAA", "TTL": ttl, "ResourceRecords": [{"Value": ip}]}


def by_type(session: Any, zone: str) -> dict[str, dict[str, Any]]:
    sets = read_record_sets(session.client("route53"), zone, w.NAME, ("A", "AAAA"))
    return {rs["Type"]: rs for rs in sets}


def open_run(tmp_path: Path, initial: list[dict[str, Any]], flip: dict[str, Any]) -> Any:
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, *initial)
    path = write_runbook(tmp_path, base_runbook(zone_id=zone, flip=flip))
    runtime = Runtime.open(path)
    return session, zone, runtime, Engine(runtime)


def test_a_dual_stack_alias_flips_and_rolls_back_both_types(aws: None, tmp_path: Path) -> None:
    session, zone, runtime, engine = open_run(tmp_path, [w.alias(), aaaa_alias()], w.FLIPS["alias"])
    before = by_type(session, zone)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        walk(engine, step)

    flipped = by_type(session, zone)
    assert set(flipped) == {"A", "AAAA"}
    for rtype in ("A", "AAAA"):  # IPv6 clients follow too
        assert flipped[rtype]["AliasTarget"]["DNSName"].startswith("target-alb-2"), rtype
    snapshot_types = {rs["Type"] for rs in Snapshot.load(runtime.snapshot_path).record_sets}
    assert snapshot_types == {"A", "AAAA"}

    result = runtime.rollback(sleep=lambda _s: None)
    assert result.confirmed, result
    assert same_sets(list(by_type(session, zone).values()), list(before.values()))
    runtime.close()


def test_a_second_type_without_a_target_value_is_refused_before_anything_is_sent(
    aws: None, tmp_path: Path
) -> None:
    session, zone, runtime, engine = open_run(
        tmp_path, [w.simple(ttl=30), aaaa(ttl=30)], w.FLIPS["simple"]
    )
    before = by_type(session, zone)
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    assert engine.run_gate("flip-dns").passed
    outcome = engine.do("flip-dns", confirmed=True)

    assert not outcome.ok
    assert "AAAA" in outcome.summary and "values_by_type" in outcome.summary
    assert by_type(session, zone) == before  # nothing sent
    assert not runtime.snapshot_path.exists()  # and no snapshot left to trip the next try
    runtime.close()


def test_values_by_type_flips_a_and_aaaa_in_one_batch(aws: None, tmp_path: Path) -> None:
    flip = {**w.FLIPS["simple"], "values_by_type": {"AAAA": [TARGET_V6]}}
    session, zone, runtime, engine = open_run(tmp_path, [w.simple(), aaaa()], flip)
    for step in ("verify-accounts", "lower-ttl"):
        walk(engine, step)
    lowered = by_type(session, zone)
    assert lowered["AAAA"]["TTL"] == 30  # the TTL of every type is lowered, AAAA too
    walk(engine, "flip-dns")

    flipped = by_type(session, zone)
    assert flipped["A"]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    assert flipped["AAAA"]["ResourceRecords"] == [{"Value": TARGET_V6}]
    assert runtime.rollback(sleep=lambda _s: None).confirmed
    assert same_sets(list(by_type(session, zone).values()), list(lowered.values()))
    runtime.close()


def test_the_ttl_gate_says_the_flip_would_be_refused(aws: None, tmp_path: Path) -> None:
    _session, _zone, runtime, _engine = open_run(
        tmp_path, [w.simple(ttl=30), aaaa(ttl=30)], w.FLIPS["simple"]
    )
    result = run_check(runtime.check_context("flip-dns"), "dns.ttl")
    assert result.status == "fail"
    assert result.summary.startswith("the flip would be refused")
    assert "AAAA" in result_text(result)
    runtime.close()


# --- a TTL found already low (item 9) ---------------------------------------------


def test_a_ttl_already_low_records_when_it_was_found(aws: None, tmp_path: Path) -> None:
    _session, _zone, runtime, engine = open_run(tmp_path, [w.simple(ttl=30)], w.FLIPS["simple"])
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    dns = runtime.state.dns
    assert dns.ttl_lowered_at is not None and dns.ttl_found_low
    assert dns.previous_ttl is None

    ctx = runtime.check_context("flip-dns")
    found = dns.ttl_lowered_at
    ctx.now = lambda: found + timedelta(hours=1)
    early = run_check(ctx, "dns.ttl")
    # Not "never ran": it waits the lead time from when it was found low.
    assert early.status == "fail"
    assert early.summary.startswith("TTL found low only 1h 00m ago; needs 1d 0h")
    assert "waive this gate" in result_text(early)

    ctx.now = lambda: found + timedelta(hours=24, minutes=1)
    assert run_check(ctx, "dns.ttl").status == "pass"
    runtime.close()


def test_finding_it_low_again_keeps_the_time_this_run_lowered_it(aws: None, tmp_path: Path) -> None:
    _session, _zone, runtime, engine = open_run(tmp_path, [w.simple(ttl=300)], w.FLIPS["simple"])
    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    lowered_at = runtime.state.dns.ttl_lowered_at
    assert lowered_at is not None and runtime.state.dns.previous_ttl == 300

    # As if the step were offered again (a crash before its outcome was saved).
    runtime.update_state(lambda s: setattr(s.step("lower-ttl"), "status", StepStatus.PENDING))
    walk(engine, "lower-ttl")
    dns = runtime.state.dns
    assert dns.ttl_lowered_at == lowered_at and not dns.ttl_found_low
    assert dns.previous_ttl == 300
    runtime.close()


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runbook.dns.flip.time.sleep", lambda _s: None)
