"""Every confirmation names the change: the record sets before and after (flip, lower-TTL),
the users and their reset codes (force-migration); both buttons always on screen."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Static

from runbook.cognito.journal import NO_CONTACT_FILE
from screens.app import RunbookApp, build_app
from screens.confirm import READING, ConfirmScreen
from tests.support import dnsworld as w
from tests.support.cognito_pools import make_pools
from tests.support.pilot import settle
from tests.support.runbooks import base_runbook, with_steps, write_runbook

SIZES = [(160, 48), (80, 24)]
ALIAS_SOURCE = "source-alb-1.us-east-1.elb.amazonaws.com."
ALIAS_TARGET = "target-alb-2.us-east-1.elb.amazonaws.com."


def one_step(tmp_path: Path, action: dict[str, Any], *, kind: str = "simple", **more: Any) -> Path:
    """A runbook whose only step is `action`, over a zone holding the `kind` record sets."""
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, *w.INITIAL[kind])
    book = base_runbook(zone_id=zone, flip=w.FLIPS[kind])
    step = {"id": "the-step", "title": "The step", "phase": "cutover", "action": action}
    return write_runbook(tmp_path, {**with_steps(book, [step]), **more})


def zone_of(path: Path) -> str:
    return str(tomllib.loads(path.read_text())["dns"]["zone_id"])


def on_screen(app: RunbookApp, widget: Any) -> bool:
    """Wholly inside the terminal, and the widget actually drawn at its centre."""
    region = widget.region
    inside = (
        region.height > 0
        and region.x >= 0
        and region.y >= 0
        and region.right <= app.size.width
        and region.bottom <= app.size.height
    )
    if not inside:
        return False
    drawn, _ = app.screen.get_widget_at(*region.center)
    return drawn is widget or widget in drawn.ancestors


def dialog_text(dialog: ConfirmScreen) -> str:
    return "\n".join(str(static.render()) for static in dialog.query(Static))


async def confirm_text(path: Path, size: tuple[int, int], *, wrapped: bool = False) -> str:
    """Open the only step, press `a`, and read the confirmation once it has filled in;
    both buttons must be on screen (and, if `wrapped`, the yes label on several lines)."""
    app = build_app(path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        for button in dialog.query(Button):
            assert on_screen(app, button), (button.id, button.region, size)
        if wrapped:  # on several lines, clipped before the key so the key stays
            yes = dialog.query_one("#yes", Button)
            assert yes.content_region.height > 1 and str(yes.label).endswith("… (y)")
        text = dialog_text(dialog)
        await pilot.press("n")  # declined: nothing sent
        await settle(pilot)
        return text


@pytest.mark.parametrize("size", SIZES)
async def test_flip_of_a_simple_record_names_old_and_new_values(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path = one_step(tmp_path, {"kind": "dns.flip"})
    text = await confirm_text(path, size)
    assert "app.example.com. A" in text
    assert f"now:   {w.SOURCE_IP} · TTL 300s" in text
    assert f"after: {w.TARGET_IP} · TTL 30s" in text
    assert "could not read" not in text
    records = w.records(w.dns_session(False), zone_of(path))
    assert records[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]  # declined: nothing sent


@pytest.mark.parametrize("size", SIZES)
async def test_flip_of_a_weighted_pair_names_both_weights(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    text = await confirm_text(one_step(tmp_path, {"kind": "dns.flip"}, kind="weighted"), size)
    assert (
        "app.example.com. A (set 'source')\n"
        f"  now:   weight 100 · {w.SOURCE_IP} · TTL 300s\n"
        f"  after: weight 0 · {w.SOURCE_IP} · TTL 300s"
    ) in text
    assert (
        "app.example.com. A (set 'target')\n"
        f"  now:   weight 0 · {w.TARGET_IP} · TTL 300s\n"
        f"  after: weight 100 · {w.TARGET_IP} · TTL 300s"
    ) in text


@pytest.mark.parametrize("size", SIZES)
async def test_flip_of_an_alias_names_both_targets_and_their_zone(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    text = await confirm_text(one_step(tmp_path, {"kind": "dns.flip"}, kind="alias"), size)
    assert f"now:   alias to {ALIAS_SOURCE} (hosted zone Z35SXDOTRQ7X7K)" in text
    assert f"after: alias to {ALIAS_TARGET} (hosted zone Z35SXDOTRQ7X7K)" in text


@pytest.mark.parametrize("size", SIZES)
async def test_lower_ttl_names_from_and_to_per_record_set(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    path = one_step(tmp_path, {"kind": "dns.lower_ttl"})
    session = w.dns_session(False)
    zone = zone_of(path)
    aaaa = {
        "Name": w.NAME,
        "Type": "AAAA",
        "TTL": 20,
        "ResourceRecords": [{"Value": "2001:db8::7"}],
    }
    w.upsert(session, zone, aaaa)
    text = await confirm_text(path, size)
    assert "app.example.com. A\n  now:   TTL 300s\n  after: TTL 30s" in text
    assert (
        "app.example.com. AAAA\n  now:   TTL 20s\n  after: unchanged (already at or below 30s)"
    ) in text


@pytest.mark.parametrize("size", SIZES)
async def test_force_migration_counts_users_and_those_without_a_verified_contact(
    aws: None, tmp_path: Path, size: tuple[int, int], admin: Any
) -> None:
    pools = make_pools(admin)
    # 7 users: 2 with a verified email, 1 with a verified phone only (the target cannot
    # send SMS, so no contact), 1 with an unverified email, 3 with nothing.
    attributes = [
        {"email": "a@example.com", "email_verified": "true"},
        {"email": "b@example.com", "email_verified": "true"},
        {"phone_number": "+15550100001", "phone_number_verified": "true"},
        {"email": "c@example.com", "email_verified": "false"},
        {},
        {},
        {},
    ]
    for i, values in enumerate(attributes):
        pools.source.admin_create_user(
            UserPoolId=pools.source_pool,
            Username=f"user{i}",
            UserAttributes=[{"Name": k, "Value": v} for k, v in values.items()],
            MessageAction="SUPPRESS",
        )
    pools.target.admin_create_user(
        UserPoolId=pools.target_pool, Username="user0", MessageAction="SUPPRESS"
    )
    cognito = {
        "source_user_pool_id": pools.source_pool,
        "target_user_pool_id": pools.target_pool,
    }
    path = one_step(tmp_path, {"kind": "cognito.force_migrate"}, cognito=cognito)
    text = await confirm_text(path, size)
    assert "About 6 users to create: 7 in the source pool, 1 already in the target." in text
    assert "Each user created gets a password reset code by email" in text
    assert (
        "5 of 7 source users have no verified email: they cannot receive the code "
        f"(they are created without one and listed in {NO_CONTACT_FILE})."
    ) in text
    listed = pools.target.list_users(UserPoolId=pools.target_pool)["Users"]
    assert [u["Username"] for u in listed] == ["user0"]  # declined: nobody created


@pytest.mark.parametrize("size", SIZES)
async def test_a_long_manual_label_wraps_and_both_buttons_stay_visible(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    label = (
        "The on-call database administrator has promoted the read replica in the target "
        "account, re-pointed every connection string in the parameter store, restarted "
        "the workers in both availability zones and written the new endpoint in the "
        "change ticket " * 3
    ).strip()
    path = one_step(tmp_path, {"kind": "manual", "confirm": label})
    text = await confirm_text(path, size, wrapped=True)
    assert "restarted the workers" in text


async def test_the_dialog_opens_at_once_and_fills_in_when_the_read_returns(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbook.preview import read

    release = threading.Event()
    headline, describe = read._DESCRIBERS["dns.flip"]

    def slow(*args: Any) -> None:
        release.wait(30)  # AWS answers when the test says so
        describe(*args)

    monkeypatch.setitem(read._DESCRIBERS, "dns.flip", (headline, slow))
    app = build_app(one_step(tmp_path, {"kind": "dns.flip"}))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert str(dialog.query_one("#preview", Static).render()) == READING
        assert all(on_screen(app, button) for button in dialog.query(Button))
        release.set()
        await settle(pilot)
        assert f"after: {w.TARGET_IP} · TTL 30s" in dialog_text(dialog)
