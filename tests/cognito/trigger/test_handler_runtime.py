"""The UserMigration Lambda's credentials, deadline, configuration and logs, against moto.

Like test_handler.py: `handler(event, None)` called directly while moto is active.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from runbook.cognito.trigger import handler as migration_lambda
from runbook.cognito.trigger.handler import (
    UNAVAILABLE,
    MigrationRefused,
    handler,
)
from tests.support.lambda_world import (
    CANARY,
    World,
    add_confirmed,
    enable_totp,
    migration_event,
    post_auth_event,
)

# --- credentials, time, configuration ---------------------------------------------------


def test_assumed_role_credentials_are_reused_until_near_expiry(world: World) -> None:
    add_confirmed(world, "alice", email="alice@example.com")
    handler(migration_event(world, "alice"), None)
    ((key, (first, expires)),) = [
        (k, v) for k, v in migration_lambda._clients.items() if k[0] == "source"
    ]
    assert expires > datetime.now(UTC).timestamp() + 1800  # an hour's credentials
    handler(migration_event(world, "alice"), None)
    assert migration_lambda._clients[key][0] is first  # no second AssumeRole
    near = (datetime.now(UTC) + timedelta(minutes=4)).timestamp()
    migration_lambda._clients[key] = (first, near)
    handler(migration_event(world, "alice"), None)
    assert migration_lambda._clients[key][0] is not first  # refreshed 5 minutes early


def test_answers_within_cognitos_time_or_refuses(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_confirmed(world, "alice", email="alice@example.com")

    class Context:
        remaining_ms = 60_000

        def get_remaining_time_in_millis(self) -> int:
            return self.remaining_ms

    # A budget wall time cannot exhaust on a loaded machine: no timing is asserted.
    monkeypatch.setattr(migration_lambda, "COGNITO_TIMEOUT_S", 60.0)
    config = migration_lambda._CLIENT_CONFIG
    # Every call can time out before Cognito's 5 s are up, and is never retried.
    assert config.connect_timeout + config.read_timeout <= migration_lambda.MIN_CALL_BUDGET_S
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    context = Context()
    assert handler(migration_event(world, "alice"), context)["response"]["userAttributes"]
    context.remaining_ms = 2000  # the function's own timeout is nearer than Cognito's
    migration_lambda.reset_cache()
    with pytest.raises(MigrationRefused, match="temporarily unavailable"):
        handler(migration_event(world, "alice"), context)
    assert not migration_lambda._clients  # gave up before sending anything


def test_missing_configuration_refuses_sign_in_but_never_blocks_post_auth(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLD_CLIENT_ID")
    with pytest.raises(MigrationRefused, match=UNAVAILABLE.split(";")[0]):
        handler(migration_event(world, "alice"), None)
    assert handler(post_auth_event(world, "alice"), None)["userName"] == world.u("alice")


def test_secret_hash_matches_cognitos_definition() -> None:
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"s3cr3t", b"alice" + b"client1", hashlib.sha256).digest()
    ).decode()
    assert migration_lambda.secret_hash("alice", "client1", "s3cr3t") == expected


# --- no secrets in logs ---------------------------------------------------------------


def test_canary_password_never_appears_in_any_log(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: botocore would log request bodies
    logging.getLogger("moto").setLevel(logging.WARNING)  # the emulator is not shipped
    add_confirmed(world, "alice", email="alice@example.com", email_verified="true")
    add_confirmed(world, "tina", email="tina@example.com")
    enable_totp(world, "tina")
    caplog.clear()
    capsys.readouterr()

    handler(migration_event(world, "alice"), None)
    handler(migration_event(world, "tina"), None)  # TOTP: migrated and flagged
    handler(migration_event(world, "alice", forgot=True), None)
    monkeypatch.setenv("MFA_POLICY", "refuse")
    for username, password in (("alice", CANARY + "x"), ("nobody", CANARY), ("tina", CANARY)):
        with pytest.raises(MigrationRefused):
            handler(migration_event(world, username, password), None)
    monkeypatch.setenv("OLD_CLIENT_SECRET", "not-the-canary")
    handler(migration_event(world, "alice"), None)

    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "migrated" in caplog.text  # it does log: the outcome, not the secret
    assert '"event": "mfa_reenrol"' in caplog.text and '"event": "not_migrated"' in caplog.text
    assert CANARY not in logged
    assert "AccessToken" not in logged and "eyJ" not in logged  # no tokens (JWTs)
