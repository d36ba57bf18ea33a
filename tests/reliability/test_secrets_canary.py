"""Secrets canary: fake keys, token and a password flow through the demo; none is written."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from runbook.aws.redact import install_logging
from runbook.demo.world import Demo
from screens.app import DemoHooks, build_app
from tests.support.pilot import settle, type_text

TAG = uuid.uuid4().hex[:10].upper()
KEY = f"AKIA{TAG}CANARY"[:20]
SECRET = f"canarysecret{TAG.lower()}xyz"
TOKEN = f"IQoJcanarytoken{TAG}"
PASSWORD = f"canarypw{TAG.lower()}"


def everything_written(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


@pytest.mark.long
async def test_no_canary_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    demo_dir = tmp_path / "demo"
    with Demo(demo_dir, users=40) as demo:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
        book = demo.runbook_path.read_text()
        book = (
            book.replace('ticket = "', f'ticket = "CHG-1 db password: {PASSWORD} ', 1)
            if 'ticket = "' in book
            else book.replace(
                "[migration]\n", f'[migration]\nticket = "CHG-1 db password: {PASSWORD}"\n', 1
            )
        )
        demo.runbook_path.write_text(book)
        install_logging(logging.DEBUG, log_file=demo_dir / ".runbook" / "app.log")
        for name in [None, "botocore", "boto3", "urllib3", "runbook", "werkzeug", "moto"]:
            logging.getLogger(name).setLevel(logging.DEBUG)

        hooks = DemoHooks(fixes=demo.fixes(), hints=demo.hints, banner=demo.banner)
        app = build_app(demo.runbook_path, demo=hooks)
        assert app.runtime is not None
        target = app.runtime.sessions.session("target")

        def fail_with_secrets(request: Any, **_: Any) -> None:
            # A forced error whose text carries the credentials, as a careless library might.
            raise EndpointConnectionError(
                endpoint_url=f"https://u:{PASSWORD}@x/?X-Amz-Security-Token={TOKEN}&k={SECRET}"
            )

        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("enter")  # step screen: identity gate
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("escape")
            target.events.register("before-send.cloudwatch", fail_with_secrets)
            for _ in range(4):  # to the DMS step, whose lag check now errors
                await pilot.press("n")
                await settle(pilot)
                if app.screen.__class__.__name__ == "StepScreen":
                    step_id = app.screen.step_id  # type: ignore[attr-defined]
                    if step_id == "replicate-database":
                        break
                    await pilot.press("w")
                    await pilot.pause()
                    await type_text(pilot, f"password={PASSWORD}")
                    await pilot.press("enter")
                    await settle(pilot)
                    await pilot.press("a")
                    await pilot.pause()
                    await pilot.press("y")
                    await settle(pilot)
                    await pilot.press("escape")
            await pilot.press("question_mark")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.press("v")
            await settle(pilot)
            await pilot.press("escape")
            await pilot.press("ctrl+r")  # nothing flipped: says so
            await pilot.pause()
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
        app.runtime.close()
        statuses = [r for r in app.live.get("replicate-database", []) if r.check == "dms.cdc_lag"]
        assert statuses and statuses[0].result.status.value == "error"  # the forced error ran

    logging.getLogger("botocore").debug("late: %s %s %s", KEY, SECRET, TOKEN)
    captured = capfd.readouterr()
    written = everything_written(demo_dir / ".runbook")  # runbook.toml is input, with the password
    assert (demo_dir / ".runbook" / "app.log").stat().st_size > 0
    for where, text in (("files", written), ("stdout", captured.out), ("stderr", captured.err)):
        for canary in (KEY, SECRET, TOKEN, PASSWORD):
            assert canary not in text, (where, canary)
        assert "x-amz-security-token" not in text.lower(), where
        assert "Signature=" not in text, where
        assert not re.search(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", text), where
