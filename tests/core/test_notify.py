"""Notifications: a webhook on loopback hears the flip and the rollback; a dead one is audited;
an SNS topic (moto) gets the same, read back through an SQS subscription."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from runbook.audit.verify import read_records
from runbook.engine import Engine
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.aws import free_port
from tests.support.runbooks import REGION, TARGET, base_runbook, write_runbook
from tests.support.webhook import receiving

pytestmark = pytest.mark.usefixtures("aws")


def flipped_run(tmp_path: Path, notify: dict[str, Any]) -> Runtime:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    book["notify"] = notify
    runtime = Runtime.open(write_runbook(tmp_path, book))
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        w.walk(engine, step)
    return runtime


def test_a_webhook_hears_the_flip_and_the_rollback(tmp_path: Path) -> None:
    with receiving() as hook:
        runtime = flipped_run(tmp_path, {"webhook_url": hook.url})
        assert runtime.rollback().confirmed
        bodies = hook.wait_for(4)
        runtime.close()
    texts = [b["text"] for b in bodies]
    assert [b["event"] for b in bodies] == [
        "action.intent",
        "action.outcome",
        "rollback.intent",
        "rollback.outcome",
    ], texts
    assert "DNS flip starting (flip-dns)" in texts[0] and "[rehearsal] test move" in texts[0]
    assert "DNS rollback confirmed" in texts[3]


def test_a_dead_webhook_is_audited_and_the_flip_still_happens(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens
    runtime = flipped_run(tmp_path, {"webhook_url": dead})
    log = runtime.audit.path
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        failed = [r for r in read_records(log) if r["event"] == "notify.failed"]
        if len(failed) >= 2:
            break
        time.sleep(0.1)
    runtime.close()
    assert [(f["details"]["channel"], f["details"]["about"]) for f in failed] == [
        ("webhook", "action.intent"),
        ("webhook", "action.outcome"),
    ]
    assert "Connection refused" in failed[0]["details"]["error"]
    assert runtime.state.step("flip-dns").status.value == "done"


def test_an_sns_topic_gets_the_flip(tmp_path: Path) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="cutover")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="cutover-inbox")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{TARGET}:cutover-inbox"
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    runtime = flipped_run(tmp_path, {"sns_topic_arn": topic})
    runtime.close()
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while len(messages) < 2 and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    subjects = sorted(m["Subject"] for m in messages)
    assert any("DNS flip starting" in s for s in subjects), subjects
    assert any("DNS flip done" in s for s in subjects), subjects


def test_a_webhook_that_never_answers_is_audited_when_the_process_closes(tmp_path: Path) -> None:
    with socket.socket() as hung:  # accepts (the kernel's backlog) and never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/hook"
        runtime = flipped_run(tmp_path, {"webhook_url": url})
        runtime.close()  # the flip's two sends are still waiting on the webhook
    failed = [r for r in read_records(runtime.audit.path) if r["event"] == "notify.failed"]
    assert [(f["details"]["channel"], f["details"]["about"]) for f in failed] == [
        ("webhook", "action.intent"),
        ("webhook", "action.outcome"),
    ]
    assert all("not confirmed sent" in f["details"]["error"] for f in failed)
