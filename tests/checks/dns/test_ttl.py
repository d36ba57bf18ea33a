"""dns.ttl against a real (moto) hosted zone, with the lowering time from each source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from runbook.audit.log import AuditLog
from runbook.aws.session import SessionFactory, build_session
from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.model import Runbook
from runbook.registry import CheckRegistry
from runbook.state import RunState
from tests.support.checks import run_check
from tests.support.runbooks import DNS, DNS_ROLE, REGION, TARGET, base_runbook

NOW = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
NAME = "app.example.com"


def create_zone(r53: Any, account_id: str) -> str:
    """example.com with a Route 53-shaped ID (`Z...`, which the runbook requires).

    moto draws IDs from [A-Z0-9] at random; its custom-ID hook pins one.
    """
    ident = HostedZoneIdentifier(account_id, "example.com.", None)
    moto_id_manager.set_custom_id(ident, f"Z{account_id}EXAMPLE")
    try:
        zone = r53.create_hosted_zone(Name="example.com", CallerReference="test")
    finally:
        moto_id_manager.unset_custom_id(ident)
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def make_zone(
    session: Any, ttl: int | None = None, alias: bool = False, account_id: str = TARGET
) -> str:
    """A zone holding app.example.com (plain A with `ttl`, or an alias), plus a neighbour."""
    r53 = session.client("route53")
    zone_id = create_zone(r53, account_id)
    record: dict[str, Any] = {"Name": NAME, "Type": "A"}
    if alias:
        record["AliasTarget"] = {
            "HostedZoneId": "Z35SXDOTRQ7X7K",
            "DNSName": "old-lb-123.us-east-1.elb.amazonaws.com",
            "EvaluateTargetHealth": False,
        }
    else:
        record.update(TTL=ttl, ResourceRecords=[{"Value": "198.51.100.7"}])
    # A name sorting after ours with a big TTL: the check must not read it.
    neighbour = {
        "Name": "apq.example.com",
        "Type": "A",
        "TTL": 86400,
        "ResourceRecords": [{"Value": "198.51.100.8"}],
    }
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {"Action": "CREATE", "ResourceRecordSet": record},
                {"Action": "CREATE", "ResourceRecordSet": neighbour},
            ]
        },
    )
    return str(zone_id)


def context(runbook: dict[str, Any], tmp_path: Path, state: RunState | None = None) -> CheckContext:
    model = Runbook.model_validate(runbook)
    return CheckContext(
        runbook=model,
        sessions=SessionFactory(model.accounts),
        state_dir=tmp_path,
        state=state,
        now=lambda: NOW,
    )


def lowered_state(ago: timedelta, previous: int | None = 300) -> RunState:
    state = RunState()
    state.dns.ttl_lowered_at = NOW - ago
    state.dns.previous_ttl = previous
    return state


def run(ctx: CheckContext, **params: Any) -> CheckResult:
    result: CheckResult = run_check(ctx, "dns.ttl", params)
    return result


@pytest.fixture
def target_zone(aws: None, admin: Any) -> Any:
    return lambda ttl=30, alias=False: make_zone(admin("target"), ttl, alias)


def test_passes_when_lowered_long_enough_ago(target_zone: Any, tmp_path: Path) -> None:
    ctx = context(base_runbook(target_zone(30)), tmp_path, lowered_state(timedelta(hours=25)))
    result = run(ctx)
    assert result.status == Status.PASS, result
    assert result.summary == "TTL 30s, lowered from 300s 1d 1h ago"
    assert result.evidence["ttl"] == 30
    assert result.evidence["lowered_at_source"] == "run state"
    assert result.evidence["ready_at"] == (NOW - timedelta(hours=1)).isoformat()


def test_fails_while_ttl_is_still_high(target_zone: Any, tmp_path: Path) -> None:
    ctx = context(base_runbook(target_zone(300)), tmp_path, lowered_state(timedelta(hours=25)))
    result = run(ctx)
    assert result.status == Status.FAIL, result
    assert result.summary == "TTL is 300s, above the cutover TTL of 30s"
    assert result.evidence["ttl"] == 300


@pytest.mark.parametrize(
    ("ttl", "dns", "ago"),
    [
        pytest.param(60, {"cutover_ttl": 60}, timedelta(hours=25), id="a-higher-cutover-ttl"),
        pytest.param(
            30, {"ttl_lead_hours": 0.5}, timedelta(hours=1), id="lead-hours-from-the-runbook"
        ),
    ],
)
def test_respects_the_runbooks_dns_settings(
    target_zone: Any, tmp_path: Path, ttl: int, dns: dict[str, Any], ago: timedelta
) -> None:
    runbook = base_runbook(target_zone(ttl), **dns)
    result = run(context(runbook, tmp_path, lowered_state(ago)))
    assert result.status == Status.PASS, result


def test_fails_when_lowered_only_an_hour_ago(target_zone: Any, tmp_path: Path) -> None:
    ctx = context(base_runbook(target_zone(30)), tmp_path, lowered_state(timedelta(hours=1)))
    result = run(ctx)
    assert result.status == Status.FAIL, result
    assert result.summary == "TTL lowered only 1h 00m ago; needs 1d 0h (ttl_lead_hours=24)"
    assert f"ready at {(NOW + timedelta(hours=23)).isoformat()}" in result.details


def test_a_previous_ttl_longer_than_the_lead_time_is_waited_out(
    target_zone: Any, tmp_path: Path
) -> None:
    two_days = 2 * 86400
    state = lowered_state(timedelta(hours=25), previous=two_days)
    result = run(context(base_runbook(target_zone(30)), tmp_path, state))
    assert result.status == Status.FAIL, result
    assert "needs 2d 0h (the previous TTL of 172800s)" in result.summary


def test_fails_without_any_record_of_the_lowering(target_zone: Any, tmp_path: Path) -> None:
    result = run(context(base_runbook(target_zone(30)), tmp_path, RunState()))
    assert result.status == Status.FAIL, result
    assert result.summary == "TTL is 30s but there is no record of when it was lowered"
    assert any("lowered_at" in line for line in result.details)  # says how to declare it


def test_declared_lowered_at_overrides_state(target_zone: Any, tmp_path: Path) -> None:
    ctx = context(base_runbook(target_zone(30)), tmp_path, lowered_state(timedelta(hours=1)))
    declared = (NOW - timedelta(hours=30)).isoformat()
    result = run(ctx, lowered_at=declared, previous_ttl=600)
    assert result.status == Status.PASS, result
    assert result.evidence["lowered_at_source"] == "check parameter"
    assert result.evidence["previous_ttl"] == 600


def test_declared_lowered_at_without_previous_ttl_says_so(target_zone: Any, tmp_path: Path) -> None:
    ctx = context(base_runbook(target_zone(30)), tmp_path)
    result = run(ctx, lowered_at=(NOW - timedelta(hours=30)).isoformat())
    assert result.status == Status.PASS, result
    assert any("previous TTL unknown" in line for line in result.details)


def test_declared_lowered_at_in_the_future_fails(target_zone: Any, tmp_path: Path) -> None:
    ctx = context(base_runbook(target_zone(30)), tmp_path)
    result = run(ctx, lowered_at=(NOW + timedelta(hours=2)).isoformat())
    assert result.status == Status.FAIL, result
    assert "in the future" in result.summary


def test_declared_lowered_at_needs_a_utc_offset() -> None:
    model = CheckRegistry.discover().get("dns.ttl").params_model
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        model.model_validate({"lowered_at": "2026-05-01T09:00:00"})
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        model.model_validate({"lowered_at_typo": "2026-05-01T09:00:00Z"})


def write_audit(tmp_path: Path, *outcomes: dict[str, Any]) -> None:
    log = AuditLog(
        tmp_path / "audit.jsonl", run_id="r1", environment="rehearsal", operator={"user": "t"}
    )
    try:
        log.record("action.intent", step="lower-ttl")
        for details in outcomes:
            log.record("action.outcome", step="lower-ttl", ok=True, summary="x", **details)
    finally:
        log.close()


def test_falls_back_to_the_audit_log(target_zone: Any, tmp_path: Path) -> None:
    early = (NOW - timedelta(hours=40)).isoformat()
    late = (NOW - timedelta(hours=26)).isoformat()
    write_audit(
        tmp_path,
        {"previous_ttl": 900, "lowered_at": early},
        {"previous_ttl": 300, "lowered_at": late, "changed": True},
        {"previous_ttl": 30, "ttl": 30, "changed": False},  # "already low": no time in it
    )
    result = run(context(base_runbook(target_zone(30)), tmp_path, RunState()))
    assert result.status == Status.PASS, result
    assert result.evidence["lowered_at"] == late  # the last one that says when
    assert result.evidence["previous_ttl"] == 300
    assert result.evidence["lowered_at_source"].startswith("audit log record 3")


def test_audit_log_lowering_too_recent_fails(target_zone: Any, tmp_path: Path) -> None:
    write_audit(
        tmp_path, {"previous_ttl": 300, "lowered_at": (NOW - timedelta(hours=2)).isoformat()}
    )
    result = run(context(base_runbook(target_zone(30)), tmp_path))
    assert result.status == Status.FAIL, result
    assert result.summary.startswith("TTL lowered only 2h 00m ago")


def test_alias_record_has_no_ttl_to_check(target_zone: Any, tmp_path: Path) -> None:
    result = run(context(base_runbook(target_zone(alias=True)), tmp_path))
    assert result.status == Status.WARN, result
    assert "alias record" in result.summary and "no settable TTL" in result.summary
    assert "ttl" not in result.evidence
    assert result.evidence["alias"] is True


def test_missing_record_fails(aws: None, admin: Any, tmp_path: Path) -> None:
    zone = make_zone(admin("target"), 30)
    runbook = base_runbook(zone)
    runbook["dns"]["name"] = "other.example.com"
    result = run(context(runbook, tmp_path, lowered_state(timedelta(hours=25))))
    assert result.status == Status.FAIL, result
    assert result.summary.startswith("no A record named other.example.com")


def test_reads_the_zone_in_the_dns_account(aws: None, tmp_path: Path) -> None:
    runbook = base_runbook("Z0000000000000000TEST", account="dns")
    runbook["accounts"]["dns"] = {"account_id": DNS, "region": REGION, "role_arn": DNS_ROLE}
    dns_account = Runbook.model_validate(runbook).account("dns")
    runbook["dns"]["zone_id"] = make_zone(
        build_session(dns_account, read_only=False), 30, account_id=DNS
    )
    result = run(context(runbook, tmp_path, lowered_state(timedelta(hours=25))))
    assert result.status == Status.PASS, result
    # The same zone ID does not exist in the target account: the right one was asked.
    runbook["dns"]["account"] = "target"
    with pytest.raises(Exception, match="NoSuchHostedZone"):
        run(context(runbook, tmp_path, lowered_state(timedelta(hours=25))))
