"""No secrets in any log: one choke point masks them before any sink."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runbook.aws.redact import MASK, install_logging, redact, redact_text
from tests.support import dnsworld as w

CANARY_KEY = "AKIACANARY0000000001"
CANARY_SECRET = "canary-secret-9f8e7d6c5b4a"


def test_redact_masks_secret_fields_and_patterns() -> None:
    data = {
        "password": "hunter2",
        "SessionToken": "IQoJb3JpZ2luX2VjEJr",
        "nested": [{"aws_secret_access_key": "abc123"}, "key ASIAABCDEFGHIJKLMNOP in text"],
        "url": "https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef&X-Amz-Credential=AK/x",
        "header": "Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=0123abcd",
        "next_token": "page-2",
        "count": 3,
    }
    out = redact(data)
    assert out["password"] == MASK and out["SessionToken"] == MASK
    assert out["nested"][0]["aws_secret_access_key"] == MASK
    assert "ASIAABCDEFGHIJKLMNOP" not in out["nested"][1]
    assert "deadbeef" not in out["url"] and "0123abcd" not in out["header"]
    assert out["next_token"] == "page-2" and out["count"] == 3
    assert redact_text('{"password": "p4ss"}') == '{"password": "' + MASK + '"}'


def test_aws_loggers_are_capped() -> None:
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    install_logging()
    for name in ("botocore", "urllib3", "boto3"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_canary_credentials_never_reach_a_log(
    aws: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runbook.engine import Engine
    from runbook.runtime import Runtime
    from tests.support.dnsworld import dns_session

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CANARY_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    session = dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    install_logging()
    caplog.set_level(logging.DEBUG)  # everything the handlers let through
    runtime = Runtime.open(w.runbook_file(tmp_path, zone, "simple"))
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        engine.run_gate(step)
        assert engine.do(step, confirmed=True).ok
    runtime.audit.record("operator.note", text=f"pasted by mistake: {CANARY_SECRET}")
    assert runtime.rollback(sleep=lambda _s: None).confirmed
    runtime.close()
    logging.getLogger("runbook").debug("credentials %s %s", CANARY_KEY, CANARY_SECRET)

    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    captured = capsys.readouterr()
    logs = "\n".join(record.getMessage() for record in caplog.records)
    assert "credentials [REDACTED] [REDACTED]" in logs
    for text in (written, captured.out, captured.err, logs):
        assert CANARY_KEY not in text and CANARY_SECRET not in text
        assert "x-amz-security-token" not in text.lower() and "Signature=" not in text
    assert "pasted by mistake: [REDACTED]" in written
