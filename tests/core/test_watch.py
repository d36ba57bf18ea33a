"""The watch step: rounds, breaches with their evidence, rollback offered or done, the view.

The criteria here are scripted (`tests.support.watchworld`): each call answers
the next status the test wrote, so a breach lands on a chosen round without
any timing. The DNS side is moto's, flipped for real before the watch.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runbook.audit.verify import read_records, verify
from runbook.dns.snapshot import Snapshot
from runbook.engine import Engine
from runbook.model import Runbook
from runbook.runtime import Runtime
from runbook.state import StepStatus
from runbook.watch import WATCH_BREACHED, WATCH_ROLLBACK, WATCH_ROUND, metric_series, read_view
from tests.support import dnsworld as w
from tests.support.runbooks import base_runbook
from tests.support.watchworld import (
    WATCH_STEP,
    calls,
    criterion,
    flipped_run_with_watch,
    registry,
)

LONG = {"window_s": 120, "interval_s": 0.05}  # a breach ends it long before the window
SHORT = {"window_s": 0.3, "interval_s": 0.05}


def open_run(path: Path) -> tuple[Runtime, Engine]:
    runtime = Runtime.open(path, registry=registry())
    return runtime, Engine(runtime)


def watch(path: Path, **kwargs: Any) -> tuple[Runtime, Any, list[dict[str, Any]]]:
    runtime, engine = open_run(path)
    assert engine.run_gate(WATCH_STEP).passed
    outcome = engine.do(WATCH_STEP, confirmed=True, **kwargs)
    records = [r for r in read_records(runtime.audit.path) if r["step"] == WATCH_STEP]
    return runtime, outcome, records


def events(records: list[dict[str, Any]]) -> list[str]:
    return [r["event"] for r in records]


def dns_now(zone: str) -> list[dict[str, Any]]:
    return w.records(w.dns_session(False), zone)


def test_every_criterion_holds_for_the_window(aws: None, tmp_path: Path) -> None:
    name = tmp_path.name
    path, _zone = flipped_run_with_watch(tmp_path, SHORT, [criterion(name, "pass")])
    ticks: list[tuple[float | None, str]] = []
    runtime, outcome, records = watch(path, progress=lambda f, t: ticks.append((f, t)))
    assert outcome.ok, outcome.summary
    assert "held for" in outcome.summary
    rounds = [r for r in records if r["event"] == WATCH_ROUND]
    assert len(rounds) == outcome.details["rounds"] >= 2
    # Compact: one record per round, no per-check records during the watch.
    after_intent = events(records)[events(records).index("action.intent") :]
    assert set(after_intent) == {"action.intent", WATCH_ROUND, "action.outcome"}
    assert rounds[0]["details"]["statuses"] == {"test.scripted": "pass"}
    assert rounds[0]["details"]["changed"]["test.scripted"].startswith("pass:")
    assert rounds[1]["details"]["changed"] == {}  # nothing changed: nothing repeated
    assert runtime.state.step(WATCH_STEP).status == StepStatus.DONE
    assert any("left" in text for _f, text in ticks)  # the countdown
    view = read_view(runtime.state_dir)
    assert view is not None and view.verdict == "held" and view.breach is None
    assert view.criteria[0].thresholds == {"name": name, "threshold": 95.0}
    assert view.criteria[0].series == {"value": [99.0] * (calls(name))}
    assert verify(runtime.audit.path).ok


def test_a_failure_mid_window_is_a_breach_with_its_evidence(aws: None, tmp_path: Path) -> None:
    name = tmp_path.name
    checks = [criterion(name, "pass", "pass", "pass", "fail"), criterion("steady", "pass")]
    path, zone = flipped_run_with_watch(tmp_path, LONG, checks)
    flipped = dns_now(zone)
    runtime, outcome, records = watch(path)

    assert not outcome.ok and outcome.details["breached"] is True
    assert outcome.details["rollback"] == "offered"
    assert "BREACHED" in outcome.summary and "ctrl+r" in outcome.summary
    rounds = [r["details"]["statuses"] for r in records if r["event"] == WATCH_ROUND]
    assert rounds[-1]["test.scripted[0]"] == "fail"
    assert all(s["test.scripted[0]"] == "pass" for s in rounds[:-1]) and len(rounds) == 3
    (breach,) = [r for r in records if r["event"] == WATCH_BREACHED]
    assert breach["seq"] == outcome.details["breach_seq"]
    d = breach["details"]
    assert d["criterion"] == "test.scripted[0]" and d["kind"] == "failed"
    assert d["result"]["status"] == "fail" and "80 %" in d["result"]["summary"]
    assert d["result"]["evidence"]["series"][-1] == ["now", 80.0]  # the reading that crossed
    assert d["thresholds"]["threshold"] == 95.0
    assert d["history"] == ["pass", "pass", "fail"]
    assert runtime.state.step(WATCH_STEP).status == StepStatus.FAILED
    assert WATCH_ROLLBACK not in events(records)  # offered, never automatic
    assert dns_now(zone) == flipped
    view = read_view(runtime.state_dir)
    assert view is not None and view.verdict == "breached"
    assert view.breach is not None and view.breach["seq"] == breach["seq"]


def test_on_breach_rollback_returns_dns_to_the_snapshot(aws: None, tmp_path: Path) -> None:
    checks = [criterion(tmp_path.name, "pass", "pass", "fail")]
    path, zone = flipped_run_with_watch(tmp_path, {**LONG, "on_breach": "rollback"}, checks)
    assert dns_now(zone)[0]["ResourceRecords"] == [{"Value": w.TARGET_IP}]
    runtime, outcome, _records = watch(path)

    assert not outcome.ok and outcome.details["breached"] is True
    assert outcome.details["rollback"] == "done" and outcome.details["rollback_confirmed"]
    snapshot = Snapshot.load(runtime.snapshot_path)
    assert [dict(rs) for rs in dns_now(zone)] == snapshot.record_sets
    assert dns_now(zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    every = read_records(runtime.audit.path)
    names = [r["event"] for r in every]
    # Why, then the rollback's own intent and outcome, then the step's outcome.
    breach_at = names.index(WATCH_BREACHED)
    why_at = names.index(WATCH_ROLLBACK)
    assert breach_at < why_at < names.index("rollback.intent") < names.index("rollback.outcome")
    why = every[why_at]["details"]
    assert why["rolled_back"] is True and 'on_breach = "rollback"' in why["reason"]
    assert why["breach_seq"] == every[breach_at]["seq"]
    assert runtime.state.dns.rollback_confirmed is True
    assert runtime.state.step("flip-dns").status == StepStatus.PENDING  # may flip again
    assert verify(runtime.audit.path).ok


def test_an_unreadable_criterion_is_not_a_pass(aws: None, tmp_path: Path) -> None:
    name = tmp_path.name
    # One unreadable round is watched again; three in a row are a breach.
    script = ["pass", "error", "pass", "error", "error", "error"]
    checks = [criterion(name, *script)]
    path, zone = flipped_run_with_watch(tmp_path, {**LONG, "on_breach": "rollback"}, checks)
    flipped = dns_now(zone)
    _runtime, outcome, records = watch(path)
    assert outcome.details["breached"] is True and outcome.details["kind"] == "unreadable"
    rounds = [
        r["details"]["statuses"]["test.scripted"] for r in records if r["event"] == WATCH_ROUND
    ]
    assert rounds == script[1:]
    # A blind spot is not a measured failure: even with on_breach = rollback, offered only.
    assert outcome.details["rollback"] == "offered"
    (why,) = [r["details"] for r in records if r["event"] == WATCH_ROLLBACK]
    assert why["rolled_back"] is False and "could not be read" in why["reason"]
    assert dns_now(zone) == flipped


def test_a_window_that_ends_unreadable_is_not_held(aws: None, tmp_path: Path) -> None:
    # Window = interval: two rounds, at the start and at the end (the gate is the first call).
    checks = [criterion(tmp_path.name, "pass", "pass", "error")]
    path, _zone = flipped_run_with_watch(tmp_path, {"window_s": 0.1, "interval_s": 0.1}, checks)
    _runtime, outcome, _records = watch(path)
    assert not outcome.ok and not outcome.details.get("breached")
    assert "unreadable" in outcome.summary


def test_an_advisory_check_that_fails_is_no_breach(aws: None, tmp_path: Path) -> None:
    checks = [criterion(tmp_path.name, "pass"), criterion("advisory", "fail", blocking=False)]
    path, _zone = flipped_run_with_watch(tmp_path, SHORT, checks)
    _runtime, outcome, records = watch(path)
    assert outcome.ok, outcome.summary
    assert WATCH_BREACHED not in events(records)


def test_the_operator_can_stop_the_watch(aws: None, tmp_path: Path) -> None:
    path, _zone = flipped_run_with_watch(tmp_path, LONG, [criterion(tmp_path.name, "pass")])
    cancel = threading.Event()

    def progress(_fraction: float | None, text: str) -> None:
        if "round 2" in text:
            cancel.set()

    runtime, outcome, _records = watch(path, progress=progress, cancel=cancel)
    assert not outcome.ok and outcome.details["stopped"] is True
    assert "not watched for the whole window" in outcome.summary
    assert runtime.state.step(WATCH_STEP).status == StepStatus.FAILED


def test_a_rollback_elsewhere_ends_the_watch(aws: None, tmp_path: Path) -> None:
    path, _zone = flipped_run_with_watch(tmp_path, LONG, [criterion(tmp_path.name, "pass")])
    other = Runtime.open(path, registry=registry())  # another shell, on the same run
    rolled: list[bool] = []

    def progress(_fraction: float | None, text: str) -> None:
        if "round 1" in text and not rolled:
            rolled.append(other.rollback().confirmed)

    _runtime, outcome, _records = watch(path, progress=progress)
    other.close()
    assert rolled == [True]
    assert not outcome.ok and "rolled back" in outcome.summary
    assert not outcome.details.get("breached")


def test_a_watch_needs_criteria_and_a_window_longer_than_its_interval() -> None:
    book = base_runbook()
    step = {"id": "watch", "title": "Watch", "phase": "after"}
    book["steps"].append({**step, "action": {"kind": "watch", "window_s": 60}})
    with pytest.raises(ValidationError, match="needs at least one blocking check"):
        Runbook.model_validate(book)
    book["steps"][-1] = {
        **step,
        "checks": [{"id": "dns.ttl"}],
        "action": {"kind": "watch", "window_s": 10, "interval_s": 30},
    }
    with pytest.raises(ValidationError, match="interval_s is longer than window_s"):
        Runbook.model_validate(book)


def test_metric_series_reads_points_and_named_metrics() -> None:
    assert metric_series({"series": [["t", 1], ["u", 2.5]]}) == {"value": [1.0, 2.5]}
    assert metric_series({"series": {"Errors": [0, 1], "Bad": "x"}}) == {"Errors": [0.0, 1.0]}
    assert metric_series({"summary": 3}) == {}
