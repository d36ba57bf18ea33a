"""Users changed in the target pool since the flip: a bounded count, "at least" when cut short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbook.aws.session import SessionFactory
from runbook.dns.aftermath import count_changed_users
from runbook.model import Runbook
from tests.support import dnsworld as w
from tests.support.rollbackworld import rollback_book


def pool_with_users(count: int) -> tuple[Runbook, SessionFactory]:
    cognito = w.dns_session(False).client("cognito-idp")  # the target account
    pool = cognito.create_user_pool(PoolName="new-users")["UserPool"]["Id"]
    for i in range(count):
        cognito.admin_create_user(UserPoolId=pool, Username=f"u{i:03d}", MessageAction="SUPPRESS")
    model = Runbook.model_validate(rollback_book("Z0000000000000000TEST", pool))
    return model, SessionFactory(model.accounts)


def test_a_count_cut_short_by_its_deadline_says_at_least(aws: None) -> None:
    model, sessions = pool_with_users(70)  # two pages of ListUsers
    since = datetime.now(UTC) - timedelta(minutes=1)
    ticks = iter([0.0, 100.0])  # the deadline passes after the first page
    cut = count_changed_users(sessions, model, since, deadline_s=5, clock=lambda: next(ticks))
    assert (cut.count, cut.complete) == (60, False)
    assert cut.line().startswith("- at least 60 users (counting stopped: 5s deadline)")

    whole = count_changed_users(sessions, model, since)
    assert (whole.count, whole.complete) == (70, True)
    later = count_changed_users(sessions, model, datetime.now(UTC) + timedelta(minutes=1))
    assert (later.count, later.complete) == (0, True)
