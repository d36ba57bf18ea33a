"""The demo scenario end to end in the app, keys only, to the flip and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.audit.verify import read_records, verify
from runbook.demo.world import Demo
from runbook.dns.records import read_record_sets, same_sets
from runbook.dns.snapshot import Snapshot
from screens.app import DemoHooks, build_app
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.messages import GateFinished, RollbackFinished
from screens.review import ReviewScreen
from screens.step import StepScreen
from tests.support.pilot import Messages, settle, walk_demo


@pytest.mark.long
async def test_demo_walked_to_the_flip_and_rolled_back(tmp_path: Path, messages: Messages) -> None:
    with Demo(tmp_path / "demo", users=60, feeder_interval_s=1.0) as demo:
        hooks = DemoHooks(fixes=demo.fixes(), hints=demo.hints, banner=demo.banner)
        app = build_app(demo.runbook_path, demo=hooks)
        world = demo.world
        async with app.run_test(size=(130, 45), message_hook=messages) as pilot:
            await settle(pilot)
            assert app.engine is not None and app.runtime is not None
            blocked_seen, waived = await walk_demo(pilot, stop_before="verify-traffic")

            # Failing gates were met, fixed or waived, as in life.
            assert {"repoint-cicd", "flip-dns"} <= set(blocked_seen)
            assert "flip-dns" in waived  # the lowered TTL has not been in force a day
            r53 = world.client("target", "route53")
            flipped = read_record_sets(r53, world.zone_id, world.record_name, "A")
            assert flipped[0]["ResourceRecords"] == [{"Value": world.target_ip}]
            snapshot = Snapshot.load(app.runtime.snapshot_path)

            # Roll back from a step screen, from a modal, and from the review screen.
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, StepScreen)
            for opener in ("", "question_mark", "v"):
                if opener:
                    await pilot.press(opener)
                    await settle(pilot)
                    assert isinstance(app.screen, HelpScreen if opener != "v" else ReviewScreen)
                await pilot.press("ctrl+r")
                await pilot.pause()
                assert isinstance(app.screen, ConfirmScreen)
                await pilot.press("y")
                await settle(pilot)
                if opener:
                    await pilot.press("escape")
                    await pilot.pause()
            restored = read_record_sets(r53, world.zone_id, world.record_name, "A")

        assert same_sets(restored, snapshot.record_sets)
        assert restored[0]["ResourceRecords"] == [{"Value": world.source_ip}]
        assert [m.result.confirmed for m in messages.of(RollbackFinished)] == [True] * 3
        assert any(not m.gate.passed for m in messages.of(GateFinished))
        log = app.runtime.audit.path
        assert verify(log).ok
        events = [(r["event"], r["step"]) for r in read_records(log)]
        order = [
            ("gate.waived", waived[0]),
            ("action.outcome", "lower-ttl"),
            ("gate.waived", "flip-dns"),
            ("action.intent", "flip-dns"),
            ("action.outcome", "flip-dns"),
            ("action.outcome", "watch-after-flip"),  # the watch held for the demo's window
            ("rollback.outcome", None),
            ("rollback.outcome", None),
            ("rollback.outcome", None),
        ]
        it = iter(events)
        assert all(item in it for item in order), events
