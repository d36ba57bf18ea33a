"""A breach found by `runbook do` in another shell raises the alert in the app, and the
app's rollback key works from it. moto's server; the criterion is cognito.signin_success."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
from textual.widgets import Static

from runbook.aws.session import build_session
from runbook.cli.output import EXIT_BREACH
from runbook.model import Account
from screens.app import build_app
from screens.breach import BreachScreen
from screens.confirm import ConfirmScreen
from screens.messages import RollbackFinished
from tests.support import dnsworld as w
from tests.support.aws import environ_for_subprocess
from tests.support.metrics import COGNITO, put_minutes, signins
from tests.support.pilot import Messages, settle
from tests.support.runbooks import REGION, TARGET
from tests.support.watchworld import WATCH_STEP, flipped_run_with_watch

ROOT = Path(__file__).resolve().parents[2]


def target() -> Any:
    return build_session(Account(account_id=TARGET, region=REGION), read_only=False)


def publish(pool: str, client: str, minutes: list[list[float]]) -> None:
    dims = {"UserPool": pool, "UserPoolClient": client}
    put_minutes(
        target().client("cloudwatch"), datetime.now(UTC), COGNITO, "SignInSuccesses", dims, minutes
    )


async def test_a_breach_in_another_shell_alerts_the_app(
    moto_server: str, tmp_path: Path, messages: Messages
) -> None:
    idp = target().client("cognito-idp")
    pool = idp.create_user_pool(PoolName="app")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"][
        "ClientId"
    ]
    publish(pool, client, [signins(40, 0), signins(39, 1)])
    checks = [{"id": "cognito.signin_success", "params": {"target_client_id": client}}]
    path, zone = flipped_run_with_watch(tmp_path, {"window_s": 120, "interval_s": 0.5}, checks)
    book = tomllib.loads(path.read_text(encoding="utf-8"))
    book["cognito"] = {"source_user_pool_id": "us-east-1_Source1", "target_user_pool_id": pool}
    path.write_text(tomli_w.dumps(book), encoding="utf-8")
    session = w.dns_session(False)

    app = build_app(path)
    async with app.run_test(size=(130, 45), message_hook=messages) as pilot:
        await settle(pilot)
        shell = subprocess.Popen(
            [sys.executable, "-m", "runbook.cli", "do", WATCH_STEP, "-f", str(path), "--yes"],
            cwd=ROOT,
            env=environ_for_subprocess(AWS_ENDPOINT_URL=moto_server),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for _ in range(600):  # the app sees the other shell's watch running
                if app.watch_view is not None and app.watch_view.round >= 1:
                    break
                await pilot.pause(0.1)
            assert app.watch_view is not None and shell.poll() is None
            publish(pool, client, [signins(0, 60)])  # the rate crosses its threshold
            for _ in range(600):
                if isinstance(app.screen, BreachScreen):
                    break
                await pilot.pause(0.1)
            assert isinstance(app.screen, BreachScreen)
            await pilot.pause()
            headline = str(app.screen.query_one("#headline", Static).render())
            assert "cognito.signin_success" in headline
            out, err = shell.communicate(timeout=60)
            assert shell.returncode == EXIT_BREACH, (out, err)
        finally:
            if shell.poll() is None:
                shell.kill()
                shell.wait()
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        for _ in range(300):
            if messages.of(RollbackFinished):
                break
            await pilot.pause(0.1)
        await settle(pilot)
        assert [m.result.confirmed for m in messages.of(RollbackFinished)] == [True]
    assert w.records(session, zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
