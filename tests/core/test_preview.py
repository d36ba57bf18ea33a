"""`runbook.preview`: what an action will change, read from AWS, bounded, never raising."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook.cognito.journal import CHECKPOINT_FILE
from runbook.engine import Engine
from runbook.preview import preview_change, preview_text
from runbook.runtime import Runtime
from tests.support import dnsworld as w
from tests.support.cognito_pools import make_pools
from tests.support.runbooks import base_runbook, with_steps, write_runbook
from tests.support.slowproxy import slow_proxy


def opened(directory: Path, kind: str, steps: list[dict[str, Any]], **more: Any) -> Runtime:
    """A run whose zone holds the `kind` record sets, with only `steps`."""
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, *w.INITIAL[kind])
    book = {**with_steps(base_runbook(zone_id=zone, flip=w.FLIPS[kind]), steps), **more}
    return Runtime.open(write_runbook(directory, book))


FLIP = {"id": "flip-dns", "title": "Flip DNS", "phase": "cutover", "action": {"kind": "dns.flip"}}


def test_actions_that_change_nothing_in_aws_have_no_preview(aws: None, tmp_path: Path) -> None:
    manual = {"kind": "manual", "confirm": "the replica is promoted"}
    steps = [
        {"id": "by-hand", "title": "By hand", "phase": "cutover", "action": manual},
        {
            "id": "wait",
            "title": "Wait",
            "phase": "cutover",
            "action": {"kind": "wait", "seconds": 5},
        },
    ]
    runtime = opened(tmp_path, "simple", steps)
    for step in runtime.model.steps:
        assert preview_change(runtime, step) is None


def test_a_flip_the_action_would_refuse_says_so_before_anything_is_sent(
    aws: None, tmp_path: Path
) -> None:
    # Weighted record sets at the name, but the runbook flips in `simple` mode.
    runtime = opened(tmp_path, "weighted", [FLIP])
    book = base_runbook(zone_id=runtime.model.dns.zone_id, flip=w.FLIPS["simple"])
    runtime.close()
    runtime = Runtime.open(write_runbook(tmp_path, with_steps(book, [FLIP])))
    preview = preview_change(runtime, runtime.model.step("flip-dns"))
    assert preview is not None and preview.error is None and preview.changes == []
    assert any(
        fact.startswith("The flip will be refused before anything is sent:")
        and "weighted/routed record sets" in fact
        for fact in preview.facts
    )


def test_after_the_flip_the_preview_says_nothing_will_be_sent(aws: None, tmp_path: Path) -> None:
    runtime = opened(tmp_path, "simple", [FLIP])
    Engine(runtime).do("flip-dns", confirmed=True)
    text = preview_text(runtime, runtime.model.step("flip-dns"))
    assert text is not None
    assert "A snapshot taken" in text and "exists" in text
    assert f"now:   {w.TARGET_IP} · TTL 30s\n  after: {w.TARGET_IP} · TTL 30s" in text
    assert "The live records already say this: nothing will be sent." in text


def test_a_hung_endpoint_costs_the_timeout_and_one_line(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = opened(tmp_path, "simple", [FLIP])
    path = first.loaded.path
    first.close()
    with slow_proxy(moto_server, delay_s=30) as slow:
        monkeypatch.setenv("AWS_ENDPOINT_URL", slow)
        runtime = Runtime.open(path)  # its clients see the slow endpoint
        preview = preview_change(runtime, runtime.model.step("flip-dns"), timeout_s=1.0)
    assert preview is not None and preview.changes == []
    assert preview.headline.startswith("Flip DNS: app.example.com. in hosted zone")
    assert preview.error == "no answer within 1.0s"


def test_force_migration_names_the_pass_it_resumes_and_a_dry_run(
    aws: None, tmp_path: Path, admin: Any
) -> None:
    pools = make_pools(admin)
    for i in range(3):
        pools.source.admin_create_user(
            UserPoolId=pools.source_pool,
            Username=f"user{i}",
            UserAttributes=[
                {"Name": "phone_number", "Value": f"+1555010000{i}"},
                {"Name": "phone_number_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
    cognito = {"source_user_pool_id": pools.source_pool, "target_user_pool_id": pools.target_pool}
    action = {"kind": "cognito.force_migrate", "dry_run": True}
    step = {"id": "force", "title": "Force-migrate", "phase": "cutover", "action": action}
    runtime = opened(tmp_path, "simple", [step], cognito=cognito)
    checkpoint = {
        "source_user_pool_id": pools.source_pool,
        "target_user_pool_id": pools.target_pool,
        "page": 2,
        "counts": {"seen": 120},
        "finished": False,
    }
    (runtime.state_dir / CHECKPOINT_FILE).write_text(json.dumps(checkpoint))
    text = preview_text(runtime, runtime.model.step("force"))
    assert text is not None
    assert text.startswith(f"Dry run of force-migration: every user of {pools.source_pool}")
    assert "Resumes an unfinished pass at page 2: 120 users already done" in text
    assert "Each user created would get a password reset code by email and" in text
    # The target pool has no SMS configuration: a verified phone cannot receive the code.
    assert "3 of 3 source users have no verified email: they cannot receive the code" in text
    assert "Dry run: nobody is created and no code is sent." in text
