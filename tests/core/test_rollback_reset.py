"""After a rollback the run resumes at the source owner's step; the flip and later ones redone."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runbook.engine import Engine, GateNotPassed
from runbook.model import Runbook
from runbook.runtime import Runtime
from runbook.state import StepStatus
from tests.support import dnsworld as w
from tests.support.faults import Injector
from tests.support.rollbackworld import (
    READ_ONLY,
    REENABLE,
    WATCH,
    flipped_world,
    rollback_book,
)


def test_the_after_rollback_step_is_skipped_until_a_rollback(aws: None, tmp_path: Path) -> None:
    world = flipped_world(tmp_path, with_pool=False, steps=("verify-accounts", "lower-ttl"))
    runtime = Runtime.open(world.path)
    engine = Engine(runtime)

    assert engine.status(REENABLE) == StepStatus.SKIPPED
    assert engine.current_step() == READ_ONLY  # not the skipped step
    assert engine.waiting_on(READ_ONLY) is None  # it holds nothing back
    allowed, why = engine.can_act(REENABLE)
    assert not allowed and "rollback" in why
    with pytest.raises(GateNotPassed, match="rollback"):
        engine.do(REENABLE, confirmed=True)
    assert runtime.refresh_state().step(REENABLE).status == StepStatus.PENDING
    runtime.close()


def test_a_rollback_sends_the_run_back_to_reenabling_writes(aws: None, tmp_path: Path) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    runtime = Runtime.open(world.path)
    engine = Engine(runtime)
    assert engine.status(WATCH) == StepStatus.DONE

    result = runtime.rollback()
    assert result.confirmed, result

    # What another process reads from disk, and this engine, agree.
    for view in (engine, Engine(Runtime.open(world.path))):
        view.rt.refresh_state()
        assert view.current_step() == REENABLE
        assert view.status(REENABLE) != StepStatus.SKIPPED
        assert view.status(WATCH) == StepStatus.PENDING
        for step in (READ_ONLY, "flip-dns", WATCH, "verify-traffic"):
            assert view.rt.state.step(step).status == StepStatus.PENDING, step
            assert view.waiting_on(step) == REENABLE, step
        for step in ("verify-accounts", "lower-ttl"):
            assert view.rt.state.step(step).status == StepStatus.DONE, step
    with pytest.raises(GateNotPassed, match=REENABLE):
        engine.do(WATCH, confirmed=True)

    # Writes back on, then the cutover again: read-only, flip. The step stays done.
    for step in (REENABLE, READ_ONLY, "flip-dns"):
        w.walk(engine, step)
    assert engine.status(REENABLE) == StepStatus.DONE
    assert engine.current_step() == WATCH

    # A second rollback calls for it again.
    assert runtime.rollback().confirmed
    runtime.refresh_state()
    assert engine.current_step() == REENABLE
    assert engine.status(READ_ONLY) == StepStatus.PENDING
    runtime.close()


def test_an_unconfirmed_rollback_sets_nothing_back(aws: None, tmp_path: Path) -> None:
    world = flipped_world(tmp_path, with_pool=False)
    runtime = Runtime.open(world.path)
    engine = Engine(runtime)
    failing = Injector("throttling", -1)  # Route 53 throttles every attempt
    runtime.sessions.session("target").events.register("before-send.route53", failing)
    result = runtime.rollback(deadline_s=1, sleep=lambda _s: None)
    assert not result.confirmed
    runtime.refresh_state()
    assert engine.status(WATCH) == StepStatus.DONE
    assert engine.status(REENABLE) == StepStatus.SKIPPED
    assert engine.current_step() == "verify-traffic"
    runtime.close()


def test_an_after_rollback_step_must_hold_later_steps() -> None:
    book = rollback_book("Z0000000000000000TEST", None)
    book["steps"][2]["independent"] = True
    with pytest.raises(ValidationError, match="after_rollback"):
        Runbook.model_validate(book)
