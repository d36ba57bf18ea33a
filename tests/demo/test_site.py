"""The synthetic site: the app the demo's synthetic checks probe, on loopback only."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from runbook.demo.emulator import port_open
from runbook.demo.model import DemoWorld
from runbook.demo.site import MARKER, DemoSite, Side, dns_origin

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def test_demo_site_answers_health_urls_on_loopback_only() -> None:
    with DemoSite() as site:
        assert site.url.startswith("http://127.0.0.1:")
        for route in DemoSite.ROUTES:
            status, headers, body = fetch(site.url + route)
            assert status == 200 and body
            # A name no DNS record routes is the target's own: it answers as the target.
            assert headers.get(MARKER[0]) == MARKER[1]
            status, headers, body = fetch(f"{site.url}/target.app.example.com{route}", "HEAD")
            assert (status, headers.get(MARKER[0]), body) == (200, MARKER[1], b"")
        assert fetch(site.url + "/nope")[0] == 404
        port = int(site.url.rsplit(":", 1)[1])
    assert not port_open(port)


def test_a_routed_name_answers_from_the_side_its_record_points_at() -> None:
    side: dict[str, tuple[Side | None, str]] = {
        "now": ("source", "app.example.com A 198.51.100.10")
    }
    with DemoSite() as site:
        site.route("app.example.com", lambda: side["now"])
        url = f"{site.url}/app.example.com/healthz"
        status, headers, body = fetch(url)
        # The source answers 200 too, but without the target's marker.
        assert (status, body) == (200, b"ok\n")
        assert MARKER[0] not in headers
        side["now"] = ("target", "app.example.com A 203.0.113.10")
        status, headers, _ = fetch(url)
        assert (status, headers.get(MARKER[0])) == (200, MARKER[1])
        side["now"] = (None, "app.example.com A 192.0.2.1: neither side's address")
        status, headers, body = fetch(url)
        assert status == 502 and MARKER[0] not in headers
        assert b"192.0.2.1" in body

        def broken() -> tuple[Side | None, str]:
            raise OSError("emulator gone")

        site.route("app.example.com", broken)
        status, _, body = fetch(url)
        assert status == 502 and b"emulator gone" in body


class FakeRoute53:
    def __init__(self, value: str) -> None:
        self.value = value

    def list_resource_record_sets(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "ResourceRecordSets": [
                {
                    "Name": "app.example.com.",
                    "Type": "A",
                    "TTL": 30,
                    "ResourceRecords": [{"Value": self.value}],
                }
            ],
            "IsTruncated": False,
        }


@pytest.mark.parametrize(
    ("value", "side"),
    [("198.51.100.10", "source"), ("203.0.113.10", "target"), ("192.0.2.1", None)],
)
def test_dns_origin_reads_the_record(
    monkeypatch: pytest.MonkeyPatch, value: str, side: str | None
) -> None:
    world = DemoWorld(endpoint_url="http://127.0.0.1:9", zone_id="Z0DEMO0000000000000")
    monkeypatch.setattr(world, "client", lambda account, service: FakeRoute53(value))
    origin, why = dns_origin(world)()
    assert origin == side
    assert value in why
