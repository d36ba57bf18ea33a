"""The report opens with how the run ended: final DNS state, flips and rollbacks, waivers
with their reasons, the chain, then the steps; a declined rollback is not a failed one,
and a gate with an error is never a clean green pass."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.audit.log import AuditLog
from runbook.report.build import build_report
from runbook.report.render import render_html, render_markdown
from tests.support.auditlogs import Clock, action, check, gate

ARN = "arn:aws:sts::222222222222:assumed-role/cutover/alice"
ACCOUNTS = [{"account": "target", "expected": "2", "actual": "2", "arn": ARN, "ok": True}]


def production_run(path: Path, *, rollback: bool = True) -> str:
    """Waiver with a reason per check, flip, a declined rollback, a confirmed one."""
    clock = Clock(datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC))
    log = AuditLog(
        path,
        run_id="live-2",
        environment="production",
        operator={"local_user": "alice"},
        clock=clock,
    )
    log.record("run.started", migration="orders cutover", ticket="CHG-1")
    for _ in range(3):  # the identity gate, run again on each step: routine
        clock.tick(1)
        log.record("identity.verified", accounts=ACCOUNTS)
    gate(
        log,
        clock,
        "lower-ttl",
        [
            check("dns.ttl", "fail", "TTL is 3600s", {}),
            check("dms.cdc_lag", "error", "metrics unreadable", {}),
        ],
    )
    log.record(
        "gate.waived",
        step="lower-ttl",
        reason="dns.ttl: CAB-9 ttl by hand; dms.cdc_lag: CAB-9 lag read in console",
        waived_checks=[
            {
                "check": "dns.ttl",
                "status": "fail",
                "summary": "TTL is 3600s",
                "reason": "CAB-9 ttl by hand",
            },
            {
                "check": "dms.cdc_lag",
                "status": "error",
                "summary": "metrics unreadable",
                "reason": "CAB-9 lag read in console",
            },
        ],
        environment_typed=True,
    )
    action(log, clock, "lower-ttl", "dns.lower_ttl", 5, "TTL lowered")
    # The flip's gate passes on its blocking check, but an advisory check errored.
    log.record("gate.started", step="flip-dns", checks=["dms.cdc_lag", "cloudwatch.alarms"])
    log.record("check.result", step="flip-dns", **check("dms.cdc_lag", "pass", "lag 0s", {}))
    advisory = {**check("cloudwatch.alarms", "error", "AccessDenied", {}), "blocking": False}
    log.record("check.result", step="flip-dns", **advisory)
    log.record(
        "gate.finished",
        step="flip-dns",
        passed=True,
        statuses={"dms.cdc_lag": "pass", "cloudwatch.alarms": "error"},
    )
    clock.tick(60)
    action(log, clock, "flip-dns", "dns.flip", 12, "flipped app.example.com to the target")
    clock.tick(30)
    log.record("rollback.not_confirmed")  # asked, and the operator said no
    if rollback:
        clock.tick(30)
        log.record("rollback.intent", name="app.example.com.", type="A", zone_id="Z1")
        clock.tick(4)
        log.record(
            "rollback.outcome",
            confirmed=True,
            attempts=1,
            summary="rollback confirmed: records read back equal the snapshot",
        )
    log.close()
    return log.head_hash


def rendered(path: Path) -> tuple[str, str]:
    report = build_report(path)
    return render_markdown(report), render_html(report)


def test_the_report_opens_with_the_outcome_and_says_each_thing_correctly(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    head = production_run(path)
    markdown, page = rendered(path)

    # The first thing after the title: where DNS points at the end.
    body = markdown.split("\n## Outcome\n\n", 1)[1]
    assert body.startswith(
        "**Final DNS state: rolled back to the source (confirmed by read-back)** "
        "(at 2025-03-01 02:02:26 UTC)"
    )
    first_h2 = re.search(r"<h2>(.*?)</h2>", page)
    assert first_h2 is not None and "Final DNS state:" in first_h2.group(1)
    assert "rolled back to the source (confirmed by read-back)" in first_h2.group(1)
    # Then flips and rollbacks with times, waivers with reasons, the chain, the steps.
    order = [
        "Final DNS state",
        "| 2025-03-01 02:01:10 | flip | ok: flipped app.example.com to the target | 12.0s |",
        "| 2025-03-01 02:01:52 | rollback | declined by the operator; nothing sent | - |",
        "| 2025-03-01 02:02:22 | rollback | confirmed: rollback confirmed",
        "`dns.ttl` fail waived because: CAB-9 ttl by hand",
        "`dms.cdc_lag` error waived because: CAB-9 lag read in console",
        "Chain intact",
        head,
        "## Steps",
        "At a glance",
        "## Who ran it",
    ]
    positions = [markdown.index(text) for text in order]
    assert positions == sorted(positions)

    # A declined confirmation is not a rollback that failed to confirm.
    assert "1 rollback(s): 1 confirmed, 0 NOT confirmed; 1 declined" in markdown
    assert "NOT confirmed**" not in markdown and "**NOT confirmed" not in markdown
    assert "**declined by the operator; nothing sent** by alice" in markdown  # rollbacks section
    assert '<span class="s-muted">declined by the operator; nothing sent</span>' in page
    assert 'class="s-bad">declined' not in page

    # The step table: waived with the reasons beside it; an errored gate is not green.
    steps = markdown.split("## Steps", 1)[1].split("- Ticket:", 1)[0]
    rows = {
        line.split("|")[1].strip(): line for line in steps.splitlines() if line.startswith("| `")
    }
    assert "**done under a waiver**" in rows["`lower-ttl`"]
    assert (
        "dns.ttl fail: CAB-9 ttl by hand; dms.cdc_lag error: CAB-9 lag read in console"
        in rows["`lower-ttl`"]
    )
    assert "done, then rolled back" in rows["`flip-dns`"]
    assert "**passed with errors (cloudwatch.alarms)**" in rows["`flip-dns`"]
    assert "### `flip-dns`: **passed with errors (cloudwatch.alarms)**" in markdown
    assert '<span class="s-warn">passed with errors (cloudwatch.alarms)</span>' in page
    assert '<section class="gate warn">' in page
    assert '<span class="s-pass">passed</span>' not in page

    # Routine rows folded: three identical identity checks are one line; sessions fold.
    assert "(3 identical checks, folded)" in markdown and "3 identical checks, folded" in page
    assert markdown.count("- target: expected 2, got 2") == 1
    assert "<details><summary>1 session(s)</summary>" in markdown
    assert "<details><summary>1 session(s)</summary>" in page


def test_a_declined_rollback_leaves_dns_flipped(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    production_run(path, rollback=False)
    markdown, _page = rendered(path)
    assert "**Final DNS state: flipped to the target** (at 2025-03-01 02:01:22 UTC)" in markdown
    assert "0 rollback(s): 0 confirmed, 0 NOT confirmed; 1 declined" in markdown
    steps = markdown.split("## Steps", 1)[1].split("- Ticket:", 1)[0]
    rows = [line for line in steps.splitlines() if line.startswith("| `flip-dns`")]
    assert rows and "rolled back" not in rows[0]


def test_an_unconfirmed_rollback_makes_the_final_state_unknown(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    production_run(path, rollback=False)
    clock = Clock(datetime(2025, 3, 1, 3, 0, 0, tzinfo=UTC))
    log = AuditLog(path, run_id="live-2", environment="production", operator={}, clock=clock)
    log.record("rollback.intent", name="app.example.com.", type="A")
    manual: dict[str, Any] = {"manual_command": "aws route53 change-resource-record-sets ..."}
    log.record("rollback.outcome", confirmed=False, attempts=9, summary="deadline passed", **manual)
    log.close()
    markdown, page = rendered(path)
    assert "**Final DNS state: UNKNOWN: the last rollback was NOT confirmed" in markdown
    assert "aws route53 change-resource-record-sets" in markdown.split("## Steps")[0]
    assert "1 rollback(s): 0 confirmed, 1 NOT confirmed; 1 declined" in markdown
    assert '<section class="outcome bad" id="outcome">' in page
