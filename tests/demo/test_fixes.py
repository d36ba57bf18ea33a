"""Fixes and hints: how each check that fails at first is cleared in the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.demo.fixes import FIXES, HINTS
from runbook.demo.model import READ_ONLY_STEP, DemoWorld


@pytest.mark.parametrize("check", sorted(FIXES))
def test_every_fix_has_a_hint(check: str) -> None:
    assert check in HINTS


@pytest.mark.parametrize("check", ["refs.source_account", "alarms.topics"])
def test_fixable_leftovers_say_fix_or_waive(check: str) -> None:
    assert "press f to fix it in the emulator, or w to waive with a reason" in HINTS[check]


def test_the_ttl_hint_says_to_waive_in_a_rehearsal() -> None:
    assert "24 h" in HINTS["dns.ttl"] and "waive" in HINTS["dns.ttl"]


def test_fixes_for_writes_stopped_marks_the_source_read_only(tmp_path: Path) -> None:
    world = DemoWorld(endpoint_url="http://127.0.0.1:9")  # never called: no AWS here
    world.state_file = tmp_path / ".runbook" / "state.json"
    assert not world.refresh_read_only()
    world.state_file.parent.mkdir()
    world.state_file.write_text(json.dumps({"steps": {READ_ONLY_STEP: {"status": "done"}}}))
    assert world.refresh_read_only()
    fresh = DemoWorld(endpoint_url="http://127.0.0.1:9")
    assert "read-only" in FIXES["source.writes_stopped"](fresh)
    assert fresh.refresh_read_only()
