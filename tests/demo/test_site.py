"""The synthetic site: the 'target app' the demo's synthetic checks probe."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from runbook.demo.emulator import port_open
from runbook.demo.site import DemoSite


def test_demo_site_answers_health_urls_on_loopback_only() -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with DemoSite() as site:
        assert site.url.startswith("http://127.0.0.1:")
        for route in DemoSite.ROUTES:
            with opener.open(site.url + route, timeout=5) as response:
                assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as missing:
            opener.open(site.url + "/nope", timeout=5)
        missing.value.close()
        port = int(site.url.rsplit(":", 1)[1])
    assert not port_open(port)
