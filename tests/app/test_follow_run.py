"""A second person opens the app on a run another drives (S3 backend, moto's server on
loopback): the app follows what the driver's process does, and takes the lease over,
explicitly and audited, which pauses the driver's wait."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from runbook.audit.verify import read_records, verify
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.dnsline import DnsLine
from screens.leaseline import LeaseLine
from screens.review import ReviewScreen
from screens.takeover import TakeOverScreen
from tests.support import dnsworld as w
from tests.support import s3backend as s3
from tests.support.aws import free_port
from tests.support.pilot import settle, type_text, within
from tests.support.runbooks import base_runbook, write_runbook

pytestmark = pytest.mark.slow

SOAK = {
    "id": "soak",
    "title": "Soak",
    "phase": "cutover",
    "action": {"kind": "wait", "seconds": 40},
}


def lease_line(app: RunbookApp) -> str:
    return str(app.screen.query_one(LeaseLine).render())


def dns_line(app: RunbookApp) -> str:
    return str(app.screen.query_one(DnsLine).render())


def timeline(app: RunbookApp) -> list[tuple[str, str, str]]:
    """(who, step, event) of each row: the log of two people says who wrote each record."""
    table = app.screen.query_one("#timeline", DataTable)
    at = {key.value: index for index, key in enumerate(table.columns)}
    rows = [table.get_row_at(i) for i in range(table.row_count)]
    return [(str(r[at["who"]]), str(r[at["step"]]), str(r[at["event"]])) for r in rows]


def shared(prefix: str, event: str) -> list[dict[str, Any]]:
    return [r for r in s3.shared_records(s3.LOCKED, prefix) if r["event"] == event]


@pytest.mark.parametrize("size", [(80, 24)])
async def test_bo_follows_ana_and_takes_the_lease_over(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    paths, prefix, _zone, _session = s3.team_world(tmp_path, [base_runbook()["steps"][0], SOAK])
    monkeypatch.setenv("RUNBOOK_OPERATOR", "bo")
    app = build_app(paths["bo"])
    driver: subprocess.Popen[str] | None = None
    try:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            assert app.engine is not None
            engine = app.engine
            assert "nobody is acting" in lease_line(app)

            # Ana, on her machine, does the first step: Bo's app shows it, and her records.
            done = await asyncio.to_thread(
                s3.cli, "ana", paths["ana"], "do", "verify-accounts", "--yes"
            )
            assert done.returncode == 0, done.stderr
            assert await within(pilot, 15, lambda: engine.status("verify-accounts") == "done")
            await pilot.press("v")
            assert await within(
                pilot,
                10,
                lambda: (
                    isinstance(app.screen, ReviewScreen)
                    and "who" in app.screen.query_one("#timeline", DataTable).columns
                    and ("ana", "verify-accounts", "action.outcome") in timeline(app)
                ),
            )
            mirror = paths["bo"].parent / ".runbook" / "shared-audit.jsonl"
            assert verify(mirror).ok
            ana_records = [r for r in read_records(mirror) if r["operator"]["local_user"] == "ana"]
            assert {"action.intent", "action.outcome"} <= {r["event"] for r in ana_records}
            await pilot.press("escape")
            await settle(pilot)

            # Ana starts the soak: Bo sees her acting, and takes the lease over.
            assert not app.check_action("take_over", ())
            driver = s3.start("ana", paths["ana"], "do", "soak", "--yes")
            assert await within(pilot, 30, lambda: s3.holds(prefix, "ana"))
            assert await within(pilot, 10, lambda: "Acting now: ana" in lease_line(app))
            assert app.check_action("take_over", ())
            await pilot.press("T")
            await pilot.pause()
            assert isinstance(app.screen, TakeOverScreen)
            # Ana's heartbeat renews her lease while Bo types: the question still stands.
            seen = app.lease_holder
            assert seen is not None
            renewed = lambda: (h := app.lease_holder) is not None and h.heartbeat > seen.heartbeat  # noqa: E731
            assert await within(pilot, 30, renewed)
            assert isinstance(app.screen, TakeOverScreen)
            await pilot.press("x", "enter")  # too short a reason: refused in the dialog
            await pilot.pause()
            assert isinstance(app.screen, TakeOverScreen)
            await pilot.press("backspace")
            await type_text(pilot, "ana's laptop froze")
            await pilot.press("enter")
            await settle(pilot)
            assert not isinstance(app.screen, TakeOverScreen)

            # The driver's wait pauses, saying why; the takeover is in the shared log.
            _out, err = await asyncio.to_thread(driver.communicate, timeout=60)
            assert driver.returncode == 1, err
            assert "another operator took the run's lease over" in err, err
            assert "Traceback" not in err
            taken = shared(prefix, "lease.taken_over")
            assert len(taken) == 1
            assert taken[0]["operator"]["local_user"] == "bo"
            assert taken[0]["details"]["previous"]["local_user"] == "ana"
            assert taken[0]["details"]["reason"] == "ana's laptop froze"
            assert taken[0]["details"]["explicit"] is True
            paused = shared(prefix, "action.interrupted")
            assert [r["operator"]["local_user"] for r in paused] == ["ana"]
            assert await within(pilot, 10, lambda: "nobody is acting" in lease_line(app))
            assert engine.status("soak") != StepStatus.DONE
            table = app.screen.query_one("#steps", DataTable)
            assert "interrupted, nobody is acting" in str(table.get_cell("soak", "note"))
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait(10)


async def test_a_shell_acting_on_a_local_run_is_shown_and_can_be_taken_over(
    moto_server: str, tmp_path: Path
) -> None:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    book["steps"] = [{**SOAK, "action": {"kind": "wait", "seconds": 30}}]
    path = write_runbook(tmp_path, book)
    lease_file = tmp_path / ".runbook" / "lease.json"
    app = build_app(path)
    driver: subprocess.Popen[str] | None = None
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            assert not app.screen.query_one(LeaseLine).display  # nothing to say
            driver = s3.start("ana", path, "do", "soak", "--yes")
            assert await within(pilot, 30, lambda: "Acting now: ana" in lease_line(app))
            assert app.screen.query_one(LeaseLine).display
            await pilot.press("T")
            await pilot.pause()
            await type_text(pilot, "taking over from the bridge")
            await pilot.press("enter")
            _out, err = await asyncio.to_thread(driver.communicate, timeout=60)
            assert driver.returncode == 1 and "took the run's lease over" in err, err
            records = read_records(tmp_path / ".runbook" / "audit.jsonl")
            taken = [r for r in records if r["event"] == "lease.taken_over"]
            assert [r["details"]["reason"] for r in taken] == ["taking over from the bridge"]
            assert await within(pilot, 10, lambda: not app.screen.query_one(LeaseLine).display)
            assert not lease_file.exists()
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait(10)


async def test_the_second_person_approves_the_flip_from_the_app(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = [{**s, "approvals": 1} if s["id"] == "flip-dns" else s for s in base_runbook()["steps"]]
    paths, prefix, zone, session = s3.team_world(tmp_path, steps)
    for step in ("verify-accounts", "lower-ttl"):
        assert s3.cli("ana", paths["ana"], "do", step, "--yes").returncode == 0
    waiting = s3.cli("ana", paths["ana"], "do", "flip-dns", "--yes")
    assert waiting.returncode == 1 and "approval" in waiting.stderr, waiting.stderr

    monkeypatch.setenv("RUNBOOK_OPERATOR", "bo")
    app = build_app(paths["bo"])
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#steps", DataTable)

        def note() -> str:
            return str(table.get_cell("flip-dns", "note"))

        # The overview shows Ana's gate of the flip beside Bo's own.
        assert await within(pilot, 10, lambda: "ana's gate at" in note())
        assert note().endswith("Z passed")
        app.open_step("flip-dns")  # its gate runs again here, as Bo's own look
        await settle(pilot)

        def title() -> str:
            return str(app.screen.query_one("#title").render())

        assert await within(pilot, 15, lambda: "needs 1 approval" in title())
        assert app.screen.check_action("approve", ())
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert await within(pilot, 15, lambda: "needs 1 approval" not in title())
        given = shared(prefix, "approval.given")
        assert [r["operator"]["local_user"] for r in given] == ["bo"]
        assert "assumed-role/cutover-approver/bo" in given[0]["details"]["approver"]

        # Ana flips on her machine; Bo's rollback key brings DNS back from his.
        flipped = await asyncio.to_thread(s3.cli, "ana", paths["ana"], "do", "flip-dns", "--yes")
        assert flipped.returncode == 0, flipped.stdout + flipped.stderr
        assert await within(pilot, 15, lambda: "→ target" in dns_line(app))
        # The state may say flipped before this machine has the snapshot: the key fetches it.
        assert app.runtime is not None
        app.runtime.snapshot_path.unlink(missing_ok=True)
        await pilot.press("ctrl+r")
        assert await within(pilot, 10, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        assert await within(pilot, 30, lambda: "→ source again" in dns_line(app))
    assert w.records(session, zone)[0]["ResourceRecords"] == w.simple()["ResourceRecords"]
    rolled = shared(prefix, "rollback.outcome")
    assert [(r["operator"]["local_user"], r["details"]["confirmed"]) for r in rolled] == [
        ("bo", True)
    ]


async def test_s3_not_answering_is_said_on_every_screen_and_the_run_still_opens(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    closed = f"http://127.0.0.1:{free_port()}"  # nobody listens: S3 is out of reach
    paths = s3.team_runbooks(tmp_path, zone, f"s3://{s3.LOCKED}/{s3.run_prefix()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", closed)
    app = build_app(paths["ana"])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert await within(pilot, 20, lambda: "not answering" in lease_line(app))
        assert "rollback never waits on S3" in lease_line(app), lease_line(app)
        app.open_step("verify-accounts")
        await settle(pilot)
        assert "not answering" in lease_line(app)


async def test_a_rollback_from_a_shell_on_the_followers_machine_reaches_everyone(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, prefix, zone, session = s3.team_world(tmp_path)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        assert s3.cli("ana", paths["ana"], "do", step, "--yes").returncode == 0
    monkeypatch.setenv("RUNBOOK_OPERATOR", "bo")
    app = build_app(paths["bo"])
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert await within(pilot, 15, lambda: "→ target" in dns_line(app))
        # Bo rolls back from a shell beside his app: it never talks to S3 itself.
        rolled = await asyncio.to_thread(s3.cli, "bo", paths["bo"], "rollback", "--yes")
        assert rolled.returncode == 0, rolled.stderr
        assert await within(pilot, 20, lambda: "→ source again" in dns_line(app))
    shared_state = json.loads(s3.store(s3.LOCKED, prefix).get("state.json")[0])  # type: ignore[index]
    assert shared_state["dns"]["flipped_at"] is None
    assert shared_state["dns"]["rollback_confirmed"] is True
    assert [r["operator"]["local_user"] for r in shared(prefix, "rollback.outcome")] == ["bo"]
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
