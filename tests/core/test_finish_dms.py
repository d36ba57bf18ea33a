"""`dms.stop_task`: the target's task is stopped, never deleted, and reconciled after a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbook.audit.verify import read_records
from runbook.state import StepStatus
from tests.support import dmsworld
from tests.support.dnsworld import walk
from tests.support.finishworld import (
    Crash,
    crash_after_call,
    crash_before_outcome,
    crash_hook,
    finish_runbook,
    reopen,
)

STOP: dict[str, Any] = {
    "id": "stop-replication",
    "action": {"kind": "dms.stop_task", "task_id": dmsworld.TASK},
}


def task(admin: Any) -> dict[str, Any]:
    tasks = (
        admin("target")
        .client("dms")
        .describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [dmsworld.TASK]}]
        )["ReplicationTasks"]
    )
    assert len(tasks) == 1  # still listed: stopped, not deleted
    return dict(tasks[0])


def make(admin: Any, *, start: bool = True) -> str:
    return dmsworld.make_task(
        lambda account, service: admin(account).client(service), "replica.source", start=start
    )


def calls(path: Path, operation: str) -> list[str]:
    return [r["event"] for r in read_records(path) if r.get("event") == operation]


def test_stops_the_running_task_and_keeps_it(aws: None, admin: Any, tmp_path: Path) -> None:
    arn = make(admin)
    assert task(admin)["Status"] == "running"
    runtime, engine = reopen(finish_runbook(tmp_path, [STOP]))
    walk(engine, "verify-accounts")
    sent: list[str] = []
    runtime.sessions.client("target", "dms").meta.events.register(
        "before-call.dms", lambda model, **_: sent.append(model.name)
    )
    outcome = engine.do("stop-replication")
    assert outcome.ok, outcome.summary
    assert task(admin)["Status"] == "stopped"
    assert outcome.details["stop_sent"] is True and outcome.details["task_arn"] == arn
    assert "StopReplicationTask" in sent and not [c for c in sent if c.startswith("Delete")]
    intent = [r for r in read_records(runtime.audit.path) if r["event"] == "action.intent"][-1]
    assert intent["details"]["task_id"] == dmsworld.TASK
    assert intent["details"]["account"] == "target"
    runtime.close()


def test_an_already_stopped_task_is_left_alone(aws: None, admin: Any, tmp_path: Path) -> None:
    arn = make(admin)
    admin("target").client("dms").stop_replication_task(ReplicationTaskArn=arn)
    runtime, engine = reopen(finish_runbook(tmp_path, [STOP]))
    walk(engine, "verify-accounts")
    sent: list[str] = []
    runtime.sessions.client("target", "dms").meta.events.register(
        "before-call.dms", lambda model, **_: sent.append(model.name)
    )
    outcome = engine.do("stop-replication")
    assert outcome.ok and outcome.details["stop_sent"] is False
    assert sent == ["DescribeReplicationTasks"]
    assert "already stopped" in outcome.summary
    assert task(admin)["Status"] == "stopped"
    runtime.close()


def test_a_missing_task_fails_and_sends_nothing(aws: None, admin: Any, tmp_path: Path) -> None:
    runtime, engine = reopen(finish_runbook(tmp_path, [STOP]))
    walk(engine, "verify-accounts")
    outcome = engine.do("stop-replication")
    assert not outcome.ok
    assert "not found in the target account" in outcome.summary
    runtime.close()


def test_a_task_still_settling_is_not_stopped(aws: None, admin: Any, tmp_path: Path) -> None:
    make(admin, start=False)
    assert task(admin)["Status"] == "creating"  # moto never settles a new task to `ready`
    step = {**STOP, "action": {**STOP["action"], "deadline_s": 1}}
    runtime, engine = reopen(finish_runbook(tmp_path, [step]))
    walk(engine, "verify-accounts")
    outcome = engine.do("stop-replication")
    assert not outcome.ok
    assert "is creating: nothing sent" in outcome.summary
    assert task(admin)["Status"] == "creating"
    runtime.close()


@pytest.mark.parametrize("point", ["after_send", "before_outcome"])
def test_a_crash_after_the_stop_reconciles_as_done(
    aws: None, admin: Any, tmp_path: Path, point: str
) -> None:
    make(admin)
    path = finish_runbook(tmp_path, [STOP])
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")
    if point == "after_send":
        crash_after_call(runtime, "target", "dms", "StopReplicationTask")
    else:
        crash_before_outcome(runtime)
    with pytest.raises(Crash):
        engine.do("stop-replication")
    runtime.close()
    assert task(admin)["Status"] == "stopped"

    runtime, engine = reopen(path)
    assert engine.dangling_intents() == ["stop-replication"]
    [message] = engine.reconcile()
    assert "reconciled after a crash" in message
    assert engine.status("stop-replication") == StepStatus.DONE
    assert runtime.state.in_flight is None
    assert calls(runtime.audit.path, "action.reconciled")
    assert task(admin)["Status"] == "stopped"
    runtime.close()


def test_a_crash_before_the_stop_offers_the_step_again(
    aws: None, admin: Any, tmp_path: Path
) -> None:
    make(admin)
    path = finish_runbook(tmp_path, [STOP])
    runtime, engine = reopen(path)
    walk(engine, "verify-accounts")

    crash_hook(runtime, "target", "dms", "StopReplicationTask", "before")
    with pytest.raises(Crash):
        engine.do("stop-replication")
    runtime.close()
    assert task(admin)["Status"] == "running"

    runtime, engine = reopen(path)
    [message] = engine.reconcile()
    assert "offered again" in message
    assert engine.status("stop-replication") != StepStatus.DONE
    assert engine.do("stop-replication").ok
    assert task(admin)["Status"] == "stopped"
    runtime.close()
