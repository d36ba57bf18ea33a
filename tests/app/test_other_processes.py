"""The app and headless commands on one run: one chain, nothing set back, the app follows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Static

from runbook.audit.verify import read_records, verify
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.overview import OverviewScreen
from screens.step import StepScreen
from tests.support import dnsworld as w
from tests.support.pilot import settle, shell, small_world, within


def banner_of(app: RunbookApp) -> str:
    return str(app.screen.query_one("#banner", Static).render())


def dns_line(app: RunbookApp) -> str:
    return str(app.screen.query_one("#dns-panel", Static).render())


@pytest.mark.slow
async def test_app_and_shell_interleaved_on_one_run(moto_server: str, tmp_path: Path) -> None:
    path, zone, session = small_world(tmp_path)
    audit = path.parent / ".runbook" / "audit.jsonl"
    app = build_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.engine is not None and app.runtime is not None
        engine = app.engine

        # The shell does the first step; the app shows it within seconds, untouched.
        done = await shell("do", "verify-accounts", "-f", str(path), "--yes")
        assert done.returncode == 0, done.stderr
        assert await within(pilot, 5, lambda: engine.status("verify-accounts") == "done")
        assert isinstance(app.screen, OverviewScreen)
        # The state is re-read in a worker; the screens redraw when its message arrives.
        said = f"1 of {len(app.runtime.model.steps)} steps done"
        assert await within(pilot, 5, lambda: said in banner_of(app)), banner_of(app)
        assert app.audit_head().startswith(f"#{len(read_records(audit))} ")

        # The app lowers the TTL while the shell runs every gate.
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "lower-ttl"
        checks = asyncio.ensure_future(shell("check", "-f", str(path), "--json"))
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        await checks
        assert w.records(session, zone)[0]["TTL"] == 30

        # The app asks to flip; the shell flips first: the question closes, saying why.
        await pilot.press("escape", "n")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "flip-dns"
        await pilot.press("w")
        await pilot.pause()
        for key in "rehearsal TTL lowered today":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        flipped = await shell(
            "do", "flip-dns", "-f", str(path), "--yes", "--waive", "rehearsal from a shell"
        )
        assert flipped.returncode == 0, flipped.stderr
        assert await within(pilot, 5, lambda: not isinstance(app.screen, ConfirmScreen))
        # The dialog may close on a re-read that saw the shell's flip still running.
        engine = app.engine
        assert await within(pilot, 5, lambda: engine.status("flip-dns") == StepStatus.DONE)

        # The shell rolls back; the app's DNS line says so within seconds.
        await pilot.press("escape")
        await settle(pilot)
        assert "flipped" in dns_line(app)
        rolled = await shell("rollback", "-f", str(path), "--yes")
        assert rolled.returncode == 0, rolled.stderr
        assert await within(pilot, 5, lambda: "rolled back" in dns_line(app))
        assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]

    report = verify(audit)
    assert report.ok, report.describe()
    statuses = [
        (r["step"], r["details"].get("ok"))
        for r in read_records(audit)
        if r["event"] == "action.outcome"
    ]
    assert ("verify-accounts", True) in statuses and ("lower-ttl", True) in statuses
    final = app.runtime.store.load()
    assert final.step("verify-accounts").status == StepStatus.DONE  # never set back
    assert final.step("lower-ttl").status == StepStatus.DONE
