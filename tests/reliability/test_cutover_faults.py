"""A demo cutover in the app with Route 53 failing during the flip and the rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.audit.verify import read_records, verify
from runbook.demo.world import Demo
from runbook.dns.records import read_record_sets
from screens.app import DemoHooks, build_app
from screens.confirm import ConfirmScreen
from screens.messages import RollbackFinished
from tests.support.demowalk import walk_demo_headless
from tests.support.faults import Injector
from tests.support.pilot import Messages, settle, walk_demo


@pytest.mark.long
@pytest.mark.slow
@pytest.mark.parametrize("rollback_faults", [3, -1], ids=["recovers", "never-recovers"])
async def test_faults_during_flip_and_rollback(
    tmp_path: Path, messages: Messages, rollback_faults: int
) -> None:
    with Demo(tmp_path / "demo", users=40, feeder_interval_s=1.0) as demo:
        # The steps before the flip are not this test's subject (the demo pilot walks
        # them in the app): they are done through the engine, then the app opens the run.
        walk_demo_headless(demo, stop_before="flip-dns")
        hooks = DemoHooks(fixes=demo.fixes(), hints=demo.hints, banner=demo.banner)
        app = build_app(demo.runbook_path, demo=hooks)
        assert app.runtime is not None
        # The rollback gets a short deadline so "never recovers" ends in seconds.
        object.__setattr__(app.runtime.model.settings, "rollback_deadline_s", 4.0)
        target = app.runtime.sessions.session("target")
        # Throttle the flip's UPSERT twice: botocore's own retries carry it through.
        flip_faults = Injector("throttling", 2, operations=("ChangeResourceRecordSets",))
        target.events.register("before-send.route53", flip_faults)
        async with app.run_test(size=(130, 45), message_hook=messages) as pilot:
            await settle(pilot)
            await walk_demo(pilot, start_at="flip-dns", stop_before="verify-traffic")
            assert flip_faults.injected == 2
            world = demo.world
            r53 = world.client("target", "route53")
            flipped = read_record_sets(r53, world.zone_id, world.record_name, "A")
            assert flipped[0]["ResourceRecords"] == [{"Value": world.target_ip}]

            faults = Injector("prior_request", rollback_faults)
            target.events.register("before-send.route53", faults)
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await settle(pilot)
            while not messages.of(RollbackFinished):
                await pilot.pause(0.2)
            result = messages.of(RollbackFinished)[0].result
            now = read_record_sets(r53, world.zone_id, world.record_name, "A")

        outcome = [
            r for r in read_records(app.runtime.audit.path) if r["event"] == "rollback.outcome"
        ]
        assert verify(app.runtime.audit.path).ok
        assert len(outcome) == 1
        if rollback_faults > 0:
            assert result.confirmed
            assert outcome[0]["details"]["confirmed"] is True
            assert now[0]["ResourceRecords"] == [{"Value": world.source_ip}]
        else:
            assert not result.confirmed
            assert outcome[0]["details"]["confirmed"] is False
            command = outcome[0]["details"]["manual_command"]
            assert command.startswith("aws route53 change-resource-record-sets --hosted-zone-id")
            assert command == result.manual_command
            assert now[0]["ResourceRecords"] == [{"Value": world.target_ip}]  # still flipped
