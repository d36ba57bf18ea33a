"""`runbook run` without credentials for an account says so on the first screen: which
account, and the profile or role that is missing, not only inside step 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from screens.app import build_app
from screens.overview import OverviewScreen
from tests.support import dnsworld as w
from tests.support.pilot import settle
from tests.support.runbooks import TARGET, base_runbook, write_runbook

SIZES = [pytest.param((160, 48), id="160x48"), pytest.param((80, 24), id="80x24")]


@pytest.mark.parametrize("size", SIZES)
async def test_the_overview_names_the_account_and_its_missing_profile(
    aws: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    zone = w.make_zone(w.dns_session(False))
    book = base_runbook(zone_id=zone)
    book["accounts"]["target"]["profile"] = "cutover-target"  # not in the AWS config
    app = build_app(write_runbook(tmp_path, book))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)  # the first screen, no step opened
        banner = app.screen.query_one("#banner", Static)
        text = str(banner.render())
        assert f"target account {TARGET}: profile 'cutover-target' not found" in text
        assert "source account" not in text  # its role was assumed: nothing to say
        # Drawn whole inside the terminal, above the step table.
        assert banner.region.height >= 2 and banner.region.bottom <= size[1]
