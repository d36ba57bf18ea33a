"""The review report: built from real audit logs, checked for what a reviewer must see."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from runbook.audit.log import AuditLog
from runbook.audit.record import canonical, record_hash
from runbook.audit.verify import read_records, verify
from runbook.aws.redact import MASK
from runbook.formatting import duration as fmt_duration
from runbook.report.build import build_report
from runbook.report.command import output_prefix, report_command, write_report
from runbook.report.render import fmt_delta, render_html, render_markdown
from tests.support.auditlogs import Clock, action, check, gate

SOURCE, TARGET = "111111111111", "222222222222"
ALICE_ARN = f"arn:aws:sts::{TARGET}:assumed-role/cutover/alice"
BOB_ARN = f"arn:aws:sts::{TARGET}:assumed-role/cutover/bob"
# Operator input that tries to inject markup and a link out of the report.
WAIVER = (
    'CAB-approved: TTL stays high for the batch jobs <script>alert("pwned")</script> '
    '<a href="https://evil.example/x">details</a>'
)
MANUAL = (
    "aws route53 change-resource-record-sets --hosted-zone-id Z123 --change-batch file://rb.json"
)


def identity(arn: str) -> list[dict[str, Any]]:
    return [
        {"account": "source", "expected": SOURCE, "actual": SOURCE, "arn": arn, "ok": True},
        {"account": "target", "expected": TARGET, "actual": TARGET, "arn": arn, "ok": True},
    ]


def live_log(path: Path) -> str:
    """A production run: waiver, flip, two rollbacks, a crash and a resumed session."""
    clock = Clock(datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC))
    operator = {"local_user": "alice@bastion", "aws_arn": None}
    log = AuditLog(path, run_id="live-1", environment="production", operator=operator, clock=clock)
    log.record(
        "run.started",
        runbook="/ops/runbook.toml",
        migration="orders cutover",
        ticket="CHG-4711",
        version="0.1.0",
    )
    clock.tick(5)
    log.set_operator(aws_arn=ALICE_ARN)
    log.record("identity.verified", accounts=identity(ALICE_ARN))
    gate(
        log,
        clock,
        "lower-ttl",
        [
            check("dns.ttl", "fail", "TTL is 3600s, above 300s", {"ttl": 3600, "max_ttl": 300}),
            check(
                "dms.task_settings",
                "pass",
                "full-load-and-cdc, DO_NOTHING",
                {"TargetTablePrepMode": "DO_NOTHING", "MigrationType": "full-load-and-cdc"},
                "task orders-cdc checked",
            ),
        ],
    )
    clock.tick(30)
    log.record(
        "gate.waived",
        step="lower-ttl",
        reason=WAIVER,
        waived_checks=[
            {"check": "dns.ttl", "status": "fail", "summary": "TTL is 3600s, above 300s"}
        ],
    )
    action(log, clock, "lower-ttl", "dns.lower_ttl", 20, "TTL lowered from 3600s to 30s")
    clock.tick(60)
    gate(log, clock, "flip-dns", [check("dms.cdc_lag", "pass", "lag 0s", {"lag_s": [0, 0]})])
    action(log, clock, "flip-dns", "dns.flip", 12, "flipped app.example.com to the target")
    clock.tick(10)
    log.record("rollback.intent", name="app.example.com.", type="A", zone_id="Z123")
    clock.tick(120)
    log.record(
        "rollback.outcome",
        confirmed=False,
        attempts=7,
        summary="rollback NOT confirmed: deadline passed",
        errors=["Throttling: Rate exceeded"],
        manual_command=MANUAL,
    )
    clock.tick(30)
    log.record("rollback.intent", name="app.example.com.", type="A", zone_id="Z123")
    clock.tick(3)
    log.record(
        "rollback.outcome",
        confirmed=True,
        attempts=1,
        summary="rollback confirmed: records read back equal the snapshot",
        manual_command=None,
    )
    clock.tick(5)
    log.record("action.intent", step="force-migrate", kind="cognito.force_migrate")
    log.close()  # the process dies here: an intent with no outcome

    clock.tick(600)
    operator = {"local_user": "bob@bastion", "aws_arn": None}
    log = AuditLog(path, run_id="live-1", environment="production", operator=operator, clock=clock)
    log.record("run.resumed", migration="orders cutover", ticket="CHG-4711", version="0.1.0")
    log.set_operator(aws_arn=BOB_ARN)
    clock.tick(2)
    log.record(
        "action.reconciled",
        step="force-migrate",
        ok=True,
        summary="all 812 users already in the target pool",
    )
    log.close()
    return log.head_hash


def rehearsal_log(path: Path) -> None:
    """The same runbook against staging the day before: slower TTL change, faster flip."""
    clock = Clock(datetime(2025, 2, 28, 14, 0, 0, tzinfo=UTC))
    operator = {"local_user": "alice@laptop", "aws_arn": None}
    log = AuditLog(path, run_id="reh-1", environment="staging", operator=operator, clock=clock)
    log.record("run.started", migration="orders cutover", ticket="CHG-4711", version="0.1.0")
    gate(log, clock, "lower-ttl", [check("dns.ttl", "pass", "TTL 300s", {"ttl": 300})])
    action(log, clock, "lower-ttl", "dns.lower_ttl", 25, "TTL lowered from 300s to 30s")
    gate(log, clock, "flip-dns", [check("dms.cdc_lag", "pass", "lag 0s", {"lag_s": [0]})])
    action(log, clock, "flip-dns", "dns.flip", 8, "flipped")
    action(log, clock, "only-in-rehearsal", "manual", 3, "done by hand")
    log.close()


def append_raw(path: Path, event: str, step: str | None, details: dict[str, Any]) -> None:
    """Append a correctly chained record without the writer's redaction (an older tool's log)."""
    last = read_records(path)[-1]
    record: dict[str, Any] = {
        "seq": last["seq"] + 1,
        "time": last["time"],
        "run_id": last["run_id"],
        "operator": last["operator"],
        "environment": last["environment"],
        "step": step,
        "event": event,
        "details": details,
        "prev_hash": last["hash"],
    }
    record["hash"] = record_hash(record)
    with path.open("ab") as handle:
        handle.write(canonical(record) + b"\n")


def seq_of(path: Path, event: str) -> int:
    return next(int(r["seq"]) for r in read_records(path) if r["event"] == event)


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, Path, str]:
    live, rehearsal = tmp_path / "live" / "audit.jsonl", tmp_path / "rehearsal" / "audit.jsonl"
    head = live_log(live)
    rehearsal_log(rehearsal)
    assert verify(live).ok and verify(rehearsal).ok
    return live, rehearsal, head


def both(live: Path, previous: Path | None = None) -> tuple[str, str]:
    report = build_report(live, previous=previous)
    return render_markdown(report), render_html(report)


def test_who_what_when_and_the_chain(logs: tuple[Path, Path, str]) -> None:
    live, rehearsal, head = logs
    report = build_report(live, previous=rehearsal)
    assert report.chain.state == "intact" and report.chain.head_hash == head
    assert [r.run_id for r in report.runs] == ["live-1"]
    assert [s.resumed for s in report.runs[0].sessions] == [False, True]
    markdown, page = render_markdown(report), render_html(report)
    for text in (markdown, page):
        assert "Chain intact" in text and head in text  # the full head hash, to compare
        assert "orders cutover" in text and "CHG-4711" in text and "production" in text
        assert "alice@bastion" in text and ALICE_ARN in text
        assert "bob@bastion" in text and BOB_ARN in text  # who resumed
        assert "2025-03-01 02:00:00" in text  # when it started
        assert "TTL lowered from 3600s to 30s" in text  # what was done
    assert "| 2025-03-01 02:14:58 | resumed | bob@bastion |" in markdown
    # The counts come first, before any detail.
    glance = markdown.index("At a glance")
    assert glance < markdown.index("## Who ran it")
    assert "3 action(s): 3 ok, 0 failed, 0 without an outcome, 1 reconciled" in markdown
    assert "2 gate run(s), 1 not passed; 1 waiver(s)" in markdown
    assert "2 rollback(s): 1 confirmed, 1 NOT confirmed; 0 declined" in markdown


def test_gates_evidence_waiver_rollbacks_and_reconciliation(logs: tuple[Path, Path, str]) -> None:
    live, _rehearsal, _head = logs
    markdown, page = both(live)
    # Each gate, its verdict, each check's status, summary, details and evidence.
    assert "`lower-ttl`: **NOT passed**" in markdown and "`flip-dns`: passed" in markdown
    assert "| **FAIL** | `dns.ttl` |" in markdown and "TTL is 3600s, above 300s" in markdown
    assert "- task orders-cdc checked" in markdown
    assert '"TargetTablePrepMode": "DO_NOTHING"' in markdown
    evidence = re.search(r"<details><summary>evidence</summary><pre>(.*?)</pre>", page, re.S)
    assert evidence is not None and "&quot;max_ttl&quot;: 300" in evidence.group(1)
    # The waiver: its reason and what it waived.
    assert "CAB-approved: TTL stays high for the batch jobs" in markdown
    assert "Waived: `dns.ttl` fail: TTL is 3600s, above 300s" in markdown
    # Rollbacks: one not confirmed (with the manual command), one confirmed.
    assert "**NOT confirmed** by alice@bastion" in markdown and MANUAL in markdown
    assert "**confirmed** by alice@bastion" in markdown
    assert f"<pre>{MANUAL}</pre>" in page
    assert "Throttling: Rate exceeded" in markdown
    # The crash: the dangling intent settled in the resumed session.
    assert "reconciled at 2025-03-01 02:15:00 by bob@bastion" in markdown
    assert "all 812 users already in the target pool" in markdown


def test_durations_compared_with_the_previous_run(logs: tuple[Path, Path, str]) -> None:
    live, rehearsal, _head = logs
    markdown, page = both(live, rehearsal)
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines() if "| `" in line}
    assert "| 12.0s | 8.0s | +4.0s (+50%) |" in rows["`flip-dns`"]
    assert "| 20.0s | 25.0s | -5.0s (-20%) |" in rows["`lower-ttl`"]
    assert "| - | 3.0s | - |" in rows["`only-in-rehearsal`"]  # done in rehearsal, not live
    assert "reh-1 (staging, started 2025-02-28 14:00:00)" in markdown
    # A time that spans a crash is not like-for-like: it says so.
    assert "10m 02s (reconciled after a crash)" in rows["`force-migrate`"]
    assert "<td>+4.0s (+50%)</td>" in page
    assert "No previous run given" not in markdown

    markdown_alone, _ = both(live)
    assert "No previous run given" in markdown_alone


def test_a_tampered_copy_is_reported_broken_and_still_readable(
    logs: tuple[Path, Path, str], tmp_path: Path
) -> None:
    live, _rehearsal, _head = logs
    tampered = tmp_path / "tampered.jsonl"
    shutil.copy(live, tampered)
    seq = seq_of(tampered, "gate.waived")
    lines = tampered.read_bytes().splitlines(keepends=True)
    assert b"CAB-approved" in lines[seq - 1]
    lines[seq - 1] = lines[seq - 1].replace(b"CAB-approved", b"CAX-approved", 1)  # one byte
    tampered.write_bytes(b"".join(lines))

    report = build_report(tampered)
    assert report.chain.state == "broken" and not report.chain.trustworthy
    markdown, page = render_markdown(report), render_html(report)
    for text in (markdown, page):
        assert "NOT TRUSTWORTHY" in text and f"broken at seq {seq}" in text
        assert "CAX-approved" in text  # what can be read is still shown...
        assert "Chain intact" not in text
    assert report.unverified_count == len(report.timeline) - (seq - 1)
    # ...and each record from the bad one on is flagged where it is shown.
    rows = {line.split(" | ")[0]: line for line in markdown.splitlines() if line[:2] == "| "}
    assert rows[f"| {seq}"].endswith("**UNVERIFIED** |")
    assert "UNVERIFIED" not in rows[f"| {seq - 1}"]
    flagged = '<span class="unverified">UNVERIFIED</span>'
    waiver_row = next(row for row in page.split("<tr>") if "CAX-approved" in row)
    assert flagged in waiver_row
    gate_row = next(row for row in page.split("<tr>") if "TTL is 3600s, above 300s<" in row)
    assert flagged not in gate_row  # seq 4, before the tampered record
    assert all(not e.verified for e in report.timeline if e.seq is not None and e.seq >= seq)

    assert "Chain intact" in render_markdown(build_report(live))


def test_html_escapes_operator_input_and_loads_nothing(logs: tuple[Path, Path, str]) -> None:
    live, rehearsal, _head = logs
    markdown, page = both(live, rehearsal)
    assert "<script" not in page.lower() and "<script" not in markdown.lower()
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&lt;script&gt;" in markdown
    # No external reference of any kind: no src/href to a URL, no CSS url(), no @import.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page  # and the browser is told not to fetch anything
    assert_well_formed(page)


def test_secrets_are_redacted_again_before_rendering(
    logs: tuple[Path, Path, str], tmp_path: Path
) -> None:
    live, _rehearsal, _head = logs
    append_raw(
        live,
        "check.result",
        "flip-dns",
        check(
            "legacy.check",
            "pass",
            "connected with AKIAABCDEFGHIJKLMNOP",
            {"db_password": "hunter2-canary", "note": "secret=s3cr3t-canary"},
        ),
    )
    assert verify(live).ok  # a chained record, as an older writer might have left it
    assert "hunter2-canary" in live.read_text()
    markdown, page = both(live)
    for text in (markdown, page):
        for secret in ("hunter2-canary", "s3cr3t-canary", "AKIAABCDEFGHIJKLMNOP"):
            assert secret not in text
        assert "REDACTED" in text
    assert MASK in page


def test_report_command_writes_both_files_and_exits_by_chain(
    logs: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live, rehearsal, head = logs
    out = tmp_path / "reports" / "chg-4711"
    assert report_command(live, out, rehearsal) == 0
    html_path, md_path = out.with_name("chg-4711.html"), out.with_name("chg-4711.md")
    assert html_path.read_text().startswith("<!DOCTYPE html>")
    assert "# Audit report: orders cutover" in md_path.read_text()
    printed = capsys.readouterr()
    assert f"head hash {head}" in printed.out and str(html_path) in printed.out

    # A torn tail (a crash mid-write) is not tampering, but it is not intact either.
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(live.read_bytes() + b'{"seq": 99, "ti')
    assert report_command(torn, tmp_path / "torn-report", None) == 1
    assert "torn tail" in capsys.readouterr().err
    assert "torn tail at line" in (tmp_path / "torn-report.md").read_text()

    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(live.read_bytes().replace(b"alice@bastion", b"mallory@bastn", 1))
    assert report_command(broken, tmp_path / "broken-report", None) == 1
    assert "NOT TRUSTWORTHY: broken at seq 1" in capsys.readouterr().err
    assert "broken at seq 1" in (tmp_path / "broken-report.html").read_text()


def test_report_command_bad_input_exits_2(
    logs: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live, _rehearsal, _head = logs
    assert report_command(tmp_path / "nope.jsonl", tmp_path / "r", None) == 2
    assert "no such file" in capsys.readouterr().err
    assert report_command(live, tmp_path / "r", tmp_path / "missing-previous.jsonl") == 2
    not_a_log = tmp_path / "runbook.toml"
    not_a_log.write_text('[migration]\nname = "x"\n')
    assert report_command(not_a_log, tmp_path / "r", None) == 2
    assert "not an audit log" in capsys.readouterr().err
    assert not list(tmp_path.glob("r.*"))


def test_output_names(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    assert output_prefix(log, tmp_path) == tmp_path / "audit-report"
    assert output_prefix(log, tmp_path / "x.html") == tmp_path / "x"
    assert output_prefix(log, tmp_path / "live.v2") == tmp_path / "live.v2"
    assert output_prefix(log, None) == Path.cwd() / "audit-report"


def test_write_report_into_a_directory(logs: tuple[Path, Path, str], tmp_path: Path) -> None:
    live, rehearsal, _head = logs
    out = tmp_path / "out"
    out.mkdir()
    html_path, md_path = write_report(live, out, rehearsal)
    assert (html_path, md_path) == (out / "audit-report.html", out / "audit-report.md")
    assert "+4.0s" in md_path.read_text()


def test_an_untrustworthy_previous_log_is_called_out(
    logs: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live, rehearsal, _head = logs
    rehearsal.write_bytes(rehearsal.read_bytes().replace(b"alice@laptop", b"alice@laptoq", 1))
    assert report_command(live, tmp_path / "r", rehearsal) == 0  # this run's chain is intact
    assert "warning: previous log" in capsys.readouterr().err
    assert "its durations are not trustworthy" in (tmp_path / "r.md").read_text()


def test_a_hostile_log_does_not_crash_the_report(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    odd = [
        {"seq": 1, "event": "check.result", "details": "not a dict", "operator": []},
        {"seq": "x", "event": "gate.finished", "step": 7, "details": {"statuses": [1]}},
        {"event": "action.outcome", "time": "yesterday", "details": {"ok": "yes"}},
        ["not", "a", "record"],
    ]
    path.write_text("\n".join(json.dumps(r) for r in odd) + "\nnot json\n")
    report = build_report(path)
    assert report.chain.state == "broken" and report.unreadable_lines == [4, 5]
    assert "broken at seq 1" in render_markdown(report)
    assert_well_formed(render_html(report))


def test_formats() -> None:
    assert [fmt_duration(s) for s in (None, 0.004, 12, 125, 7300)] == [
        "-",
        "4ms",
        "12.0s",
        "2m 05s",
        "2h 01m",
    ]
    assert fmt_delta(4, 8) == "+4.0s (+50%)" and fmt_delta(-5, 25) == "-5.0s (-20%)"
    assert fmt_delta(None, 3) == "-"


class _Balance(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "img", "link"):
            self.problems.append(f"<{tag}> present")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()


def assert_well_formed(page: str) -> None:
    """Every value stayed text: no stray tags, every element closed where it was opened."""
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.problems == [] and parser.stack == []


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runbook.audit.log import AuditLog
    from runbook.cli.main import main

    log = tmp_path / "audit.jsonl"
    audit = AuditLog(log, run_id="r1", environment="production", operator={"local_user": "ann"})
    audit.record("run.started", migration="cli move", ticket="CHG-9")
    audit.record("gate.waived", step="flip-dns", reason="approved by CAB", waived_checks=[])
    audit.close()
    out = tmp_path / "out" / "ticket"
    assert main(["audit", "report", str(log), "--out", str(out)]) == 0
    html = (tmp_path / "out" / "ticket.html").read_text()
    markdown = (tmp_path / "out" / "ticket.md").read_text()
    assert "approved by CAB" in html and "approved by CAB" in markdown
    assert "CHG-9" in markdown
    assert main(["audit", "report", str(tmp_path / "missing.jsonl")]) == 2
