"""Lower TTL, flip and rollback against moto across accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.dns.records import canonical_set, same_sets
from runbook.engine import Engine, GateNotPassed
from runbook.loader import RunbookError, load
from runbook.runtime import Runtime
from runbook.state import RunState, StepStatus
from tests.support import dnsworld as w
from tests.support.dnsworld import dns_session, walk


@pytest.mark.parametrize(
    "dns_account", [False, True], ids=["zone-in-target", "zone-in-dns-account"]
)
@pytest.mark.parametrize("kind", ["simple", "alias", "weighted"])
def test_lower_flip_rollback_round_trip(
    aws: None, tmp_path: Path, kind: str, dns_account: bool
) -> None:
    session = dns_session(dns_account)
    zone = w.make_zone(session)
    w.upsert(session, zone, *w.INITIAL[kind])
    runtime = Runtime.open(w.runbook_file(tmp_path, zone, kind, dns_account=dns_account))
    engine = Engine(runtime)

    walk(engine, "verify-accounts")
    walk(engine, "lower-ttl")
    lowered = w.records(session, zone)
    for rs in lowered:
        if "AliasTarget" not in rs:
            assert rs["TTL"] == 30
    if kind != "alias":
        assert runtime.state.dns.ttl_lowered_at is not None
        assert runtime.state.dns.previous_ttl == 300

    walk(engine, "flip-dns")
    flipped = w.records(session, zone)
    assert not same_sets(flipped, lowered)
    if kind == "simple":
        assert flipped[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
        assert flipped[0]["TTL"] == 30
    elif kind == "alias":
        assert flipped[0]["AliasTarget"]["DNSName"].startswith("target-alb-2")
    else:
        weights = {rs["SetIdentifier"]: rs["Weight"] for rs in flipped}
        assert weights == {"source": 0, "target": 100}
    snapshot_file = runtime.snapshot_path
    assert snapshot_file.exists()

    result = runtime.rollback(sleep=lambda _s: None)
    assert result.confirmed, result
    restored = w.records(session, zone)
    assert same_sets(restored, lowered)
    assert sorted(map(str, map(canonical_set, restored))) == sorted(
        map(str, map(canonical_set, lowered))
    )
    # The flip may be offered again after a confirmed rollback.
    assert engine.status("flip-dns") != StepStatus.DONE
    runtime.close()


def test_steps_run_in_order(aws: None, tmp_path: Path) -> None:
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    engine = Engine(Runtime.open(w.runbook_file(tmp_path, zone, "simple")))
    engine.run_gate("flip-dns")
    allowed, why = engine.can_act("flip-dns")
    assert not allowed and "verify-accounts" in why
    with pytest.raises(GateNotPassed):
        engine.do("flip-dns")
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]


def test_weighted_flip_needs_both_sets(aws: None, tmp_path: Path) -> None:
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.weighted("source", 100, w.SOURCE_IP))
    engine = Engine(Runtime.open(w.runbook_file(tmp_path, zone, "weighted")))
    for step in ("verify-accounts", "lower-ttl"):
        walk(engine, step)
    engine.run_gate("flip-dns")
    outcome = engine.do("flip-dns")
    assert not outcome.ok and "SetIdentifier target" in outcome.summary
    assert w.records(session, zone)[0]["Weight"] == 100


def test_flip_never_overwrites_an_existing_snapshot(aws: None, tmp_path: Path) -> None:
    """A second flip after a crash must keep the pre-flip snapshot, not the flipped state."""
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    runtime = Runtime.open(w.runbook_file(tmp_path, zone, "simple"))
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        walk(engine, step)
    first = runtime.snapshot_path.read_text()

    def never_recorded(state: RunState) -> None:  # as if the outcome was never written
        state.step("flip-dns").status = StepStatus.PENDING

    runtime.update_state(never_recorded)
    walk(engine, "flip-dns")
    assert runtime.snapshot_path.read_text() == first
    assert runtime.rollback(sleep=lambda _s: None).confirmed
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]


def test_zone_in_source_account_is_rejected(tmp_path: Path) -> None:
    path = w.runbook_file(tmp_path, "Z0000000000000000TEST", "simple")
    path.write_text(path.read_text().replace('account = "target"', 'account = "source"'))
    with pytest.raises(RunbookError) as info:
        load(path)
    (problem,) = info.value.problems
    assert "dns.account" in problem and "source account is read-only" in problem
