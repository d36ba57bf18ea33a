"""Keys: remapped by binding id from the settings file; the palette offers steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.help import all_bindings
from screens.step import StepScreen
from tests.support.pilot import settle, small_world


def test_every_binding_has_an_id_and_a_tooltip() -> None:
    for where, binding in all_bindings(RunbookApp):
        assert binding.id, (where, binding.key)
        assert binding.tooltip, (where, binding.id)


async def test_keymap_from_settings_remaps_rollback(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[keymap]\nrollback = "ctrl+b"\n')
    monkeypatch.setenv("RUNBOOK_SETTINGS", str(settings))
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    app.runtime.snapshot_path.write_text(  # type: ignore[union-attr]
        '{"zone_id": "Z1", "name": "app.example.com.", "type": "A", "account_name": "target",'
        ' "account": {"account_id": "123456789012", "region": "us-east-1"},'
        ' "record_sets": [{"Name": "app.example.com.", "Type": "A", "TTL": 300,'
        ' "ResourceRecords": [{"Value": "198.51.100.10"}]}],'
        ' "taken_at": "2026-11-21T00:00:00+00:00"}'
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # the old key no longer rolls back
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"
        await pilot.press("n")


async def test_broken_settings_file_warns_and_keeps_defaults(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("keymap = [oops\n")
    monkeypatch.setenv("RUNBOOK_SETTINGS", str(settings))
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    assert app.settings_warning is not None and str(settings) in app.settings_warning


async def test_command_palette_opens_a_step(aws: None, tmp_path: Path) -> None:
    path, _zone, _session = small_world(tmp_path)
    app = build_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for char in "Step: Flip":
            await pilot.press("space" if char == " " else char)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step_id == "flip-dns"
