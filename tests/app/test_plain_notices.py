"""Notices say what the engine said, brackets included: never read as markup."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content

from runbook.engine import Engine
from runbook.runtime import Runtime
from screens.app import build_app
from tests.support.pilot import settle, small_world, within


async def test_the_rollback_aftermath_keeps_the_bracketed_table_name(
    aws: None, tmp_path: Path
) -> None:
    path, _zone, _session = small_world(tmp_path, gated_flip=False)
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        engine.run_gate(step)
        assert engine.do(step, confirmed=True).ok
    app = build_app(runtime=runtime)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("y")

        def said() -> list[str]:  # what the toasts show: plain text, or the text's markup read
            return [
                n.message if not n.markup else str(Content.from_markup(n.message))
                for n in app._notifications
            ]

        assert await within(pilot, 20, lambda: any("not counted" in m for m in said()))
        assert any("no [cognito] table in the runbook" in m for m in said()), said()
