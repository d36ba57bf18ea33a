"""A force-migration whose lease is taken over pauses, and resumes with the new holder.

Before, it went on creating users after the takeover, beside the new holder's run of
the same step: two runs asking for the same missing users.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from runbook.acting import LeaseLost, take_over
from runbook.audit.verify import read_records
from runbook.aws.session import SessionFactory
from runbook.engine import Engine
from runbook.lease import RunLease
from runbook.runtime import Runtime
from tests.support.cognito_pools import all_users, assert_migrated_exactly_once, make_pools, seed
from tests.support.runbooks import base_runbook, write_runbook

USERS = 40
STEP = "force-migrate"


def _runbook(tmp_path: Path, pools: Any) -> Path:
    book = base_runbook()
    book["cognito"] = {
        "source_user_pool_id": pools.source_pool,
        "target_user_pool_id": pools.target_pool,
    }
    book["steps"] = [
        {
            "id": STEP,
            "title": "Force-migrate the rest",
            "phase": "after cutover",
            # Slow enough that the takeover lands half way (a heartbeat is 5 s).
            "action": {"kind": "cognito.force_migrate", "rate_per_second": 4},
        }
    ]
    return write_runbook(tmp_path, book)


def _until(condition: Any, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_takeover_pauses_force_migration_and_the_next_do_resumes_it(
    aws: None, admin: Any, sessions: SessionFactory, tmp_path: Path
) -> None:
    pools = make_pools(admin)
    seed(pools, USERS)
    path = _runbook(tmp_path, pools)
    ana = Runtime.open(path, sessions=sessions)
    fractions: list[float | None] = []
    raised: list[BaseException] = []

    def drive() -> None:
        try:
            Engine(ana).do(STEP, confirmed=True, progress=lambda f, _t: fractions.append(f))
        except BaseException as exc:
            raised.append(exc)

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        _until(lambda: len(all_users(pools.target, pools.target_pool)) >= 5, "the first users")
        holder = RunLease(ana.state_dir).current()
        assert holder is not None
        take_over(ana, holder, "ana's laptop froze mid-way")
        driver.join(60)
        assert not driver.is_alive(), "force-migration went on after the takeover"
    finally:
        driver.join(60)
    assert raised and isinstance(raised[0], LeaseLost), raised
    made = len(all_users(pools.target, pools.target_pool))
    assert 0 < made < USERS
    time.sleep(1)  # nothing of ana's is still creating users
    assert len(all_users(pools.target, pools.target_pool)) == made
    events = [r["event"] for r in read_records(ana.audit.path) if r.get("step") == STEP]
    assert events[-1] == "action.interrupted"  # undecided: the intent stays open
    assert "lease.lost" in events and "action.outcome" not in events
    ana.close()

    # Bo does the step next: it is settled as interrupted, then resumes and finishes
    # (at a pace for the test's sake: his copy of the runbook lets it go faster).
    path.write_text(path.read_text().replace("rate_per_second = 4", "rate_per_second = 40"))
    bo = Runtime.open(path, sessions=sessions)
    engine = Engine(bo)
    assert engine.reconcile() == [
        f"{STEP}: interrupted; offered again: doing it resumes where it stopped"
    ]
    outcome = engine.do(STEP, confirmed=True)
    assert outcome.ok, outcome.summary
    assert_migrated_exactly_once(pools, bo.state_dir, USERS)
    bo.close()
