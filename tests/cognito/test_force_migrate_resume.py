"""Force-migration stopped and started again: cancelled, refused, failing, throttled.

The source is always reached through the guarded client (the `clients` fixture).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from runbook.aws.session import SessionFactory
from runbook.cognito.force_migrate import ForceMigrationError
from runbook.cognito.journal import CHECKPOINT_FILE, JOURNAL_FILE, MAP_FILE, TOTP_FILE
from tests.support.cognito_pools import (
    PASSWORD,
    Pools,
    assert_migrated_exactly_once,
    cancel_at,
    expected_attributes,
    make_pools,
    pre_migrate,
    read_map,
    refusal,
    run,
    seed,
    username,
)

# --- cancel, resume, a refused position ---------------------------------------------


def enable_totp(pools: Pools, client_id: str, name: str) -> None:
    pools.source.admin_set_user_password(
        UserPoolId=pools.source_pool, Username=name, Password=PASSWORD, Permanent=True
    )
    token = pools.source.admin_initiate_auth(
        UserPoolId=pools.source_pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    pools.source.associate_software_token(AccessToken=token)
    pools.source.verify_software_token(AccessToken=token, UserCode="123456")
    pools.source.admin_set_user_mfa_preference(
        UserPoolId=pools.source_pool,
        Username=name,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


def test_cancel_resume_and_rerun_are_idempotent_and_list_totp_users(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    count = 150
    pools = make_pools(admin, mfa=True)
    seed(pools, count)
    client_id = pools.source.create_user_pool_client(
        UserPoolId=pools.source_pool,
        ClientName="admin",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    totp = [username(i) for i in (1, 61, 149)]
    for name in totp:
        enable_totp(pools, client_id, name)

    cancel = threading.Event()
    first = run(pools, clients, tmp_path, cancel=cancel, progress=cancel_at(70, cancel))
    assert first.cancelled and not first.finished
    assert "run the step again" in first.summary()

    second = run(pools, clients, tmp_path)
    assert second.resumed and second.finished
    assert second.counts.created == count and second.counts.seen == count  # none twice
    assert sorted(second.totp_users) == totp
    assert (tmp_path / TOTP_FILE).read_text().split() == totp
    assert_migrated_exactly_once(pools, tmp_path, count)

    third = run(pools, clients, tmp_path)  # a new pass: everyone is already there
    assert not third.resumed and third.finished
    assert third.counts.created == 0 and third.counts.existing == count
    assert_migrated_exactly_once(pools, tmp_path, count)
    assert len(list(tmp_path.glob(MAP_FILE + ".*"))) == 1  # the first pass's map, kept


def test_refused_position_starts_a_new_pass_and_finishes_half_made_users(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    count, half_made = 150, 141  # user00141: in staff, verified email, enabled
    pools = make_pools(admin)
    seed(pools, count)
    cancel = threading.Event()
    first = run(pools, clients, tmp_path, cancel=cancel, progress=cancel_at(70, cancel))
    assert first.cancelled and json.loads((tmp_path / CHECKPOINT_FILE).read_text())["page_token"]
    # As if the process had died right after creating user00141 (not on this page).
    with open(tmp_path / JOURNAL_FILE, "ab") as journal:
        journal.write(json.dumps({"begin": username(half_made), "t": time.time()}).encode() + b"\n")
    pools.target.admin_create_user(
        UserPoolId=pools.target_pool,
        Username=username(half_made),
        UserAttributes=[{"Name": k, "Value": v} for k, v in expected_attributes(half_made).items()],
        MessageAction="SUPPRESS",
    )
    refused: list[str] = []

    def expired_token(params: dict[str, Any], **_kwargs: Any) -> Any:
        if b"PaginationToken" not in params["body"] or refused:
            return None
        refused.append("once")
        return refusal("InvalidParameterException", "Invalid pagination token")

    clients[0].meta.events.register("before-call.cognito-idp.ListUsers", expired_token)
    audit: list[str] = []
    second = run(pools, clients, tmp_path, audit=lambda event, **_: audit.append(event))
    assert refused and "cognito.force_migrate.restarted" in audit
    assert second.finished and not second.resumed and second.counts.failed == 0
    assert second.counts.created + second.counts.existing == count
    rows = {r["username"]: r for r in read_map(tmp_path)}
    assert rows[username(half_made)]["outcome"] == "created"  # finished, not skipped as theirs
    assert_migrated_exactly_once(pools, tmp_path, count)


def test_a_cause_common_to_all_users_stops_the_run(
    aws: None, admin: Any, clients: tuple[Any, Any], tmp_path: Path
) -> None:
    pools = make_pools(admin)
    seed(pools, 40)

    def refuse(**_kwargs: Any) -> Any:
        return refusal("InvalidParameterException", "account recovery is not set up")

    clients[1].meta.events.register("before-call.cognito-idp.AdminCreateUser", refuse)
    audit: list[str] = []
    with pytest.raises(ForceMigrationError, match=r"25 users failed in a row.*account recovery"):
        run(pools, clients, tmp_path, audit=lambda event, **_: audit.append(event))
    assert audit.count("cognito.force_migrate.user_failed") >= 25
    assert audit[-1] == "cognito.force_migrate.stopped"
    clients[1].meta.events.unregister("before-call.cognito-idp.AdminCreateUser", refuse)
    report = run(pools, clients, tmp_path)
    assert report.resumed and report.finished and report.counts.created == 40
    assert report.counts.seen == 40 and report.counts.failed == 0


# --- throttling ------------------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


class Throttler:
    """before-send: every `every`-th request answers TooManyRequestsException, `limit` times."""

    def __init__(self, every: int, limit: int) -> None:
        self.every = every
        self.remaining = limit
        self.seen = 0
        self.injected = 0
        self.lock = threading.Lock()

    def __call__(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        with self.lock:
            self.seen += 1
            if self.remaining == 0 or self.seen % self.every:
                return None
            self.remaining -= 1
            self.injected += 1
        body = json.dumps(
            {"__type": "TooManyRequestsException", "message": "Too many requests"}
        ).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))


@pytest.mark.parametrize("emulator", ["server", "in-process"])
def test_throttling_slows_it_down_but_loses_nobody(
    emulator: str,
    request: pytest.FixtureRequest,
    admin: Any,
    sessions: SessionFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Against moto's server a throttled request never arrives, as with Cognito. In-process
    moto still applies it and only the answer is lost (as after a timeout): the retry
    meets a user it created itself, which must be finished, not skipped."""
    request.getfixturevalue("moto_server" if emulator == "server" else "aws")
    caplog.set_level(logging.WARNING, logger="werkzeug")
    count = 120
    pools = make_pools(admin)
    seed(pools, count)
    pre_migrate(pools, range(0, count, 12))
    # One attempt per botocore call: every throttle reaches force-migration's own backoff.
    once = Config(retries={"mode": "standard", "total_max_attempts": 1})
    source = sessions.client("source", "cognito-idp", config=once)
    target = sessions.client("target", "cognito-idp", config=once)
    throttles = [Throttler(every=3, limit=60), Throttler(every=2, limit=10)]
    target.meta.events.register("before-send.cognito-idp", throttles[0])
    source.meta.events.register("before-send.cognito-idp", throttles[1])
    report = run(pools, (source, target), tmp_path, backoff_base_s=0.001, max_backoff_s=0.01)
    assert report.finished and report.counts.failed == 0, report.failures
    assert [t.injected for t in throttles] == [60, 10]
    assert report.counts.throttled == 70
    assert report.counts.existing == len(range(0, count, 12))
    assert_migrated_exactly_once(pools, tmp_path, count, range(0, count, 12))
