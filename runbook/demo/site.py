"""The synthetic site: the demo's app, as the source and the target serve it, on 127.0.0.1.

One loopback server stands for every name the playbook probes. A probe's
first path segment is the host it stands for (`/app.example.com/healthz`,
written by `runbook.demo.playbook`). A name routed with `route()` (the record
the flip moves, see `follow_dns()`) is answered by whichever side its DNS
record points at *now*: the source before the flip, the target after it. Any
other name is the target's own (e.g. `target.app.example.com`).

Both sides answer 200; only the target adds the marker header the playbook's
synthetic checks expect (`MARKER`), so a check passes on the app's name only
once the flip has really sent it to the target.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from runbook.demo.emulator import LOOPBACK
from runbook.dns.records import read_record_sets

if TYPE_CHECKING:
    from runbook.demo.model import DemoWorld

Side = Literal["source", "target"]
Origin = Callable[[], tuple[Side | None, str]]
"""Which side answers a routed name now, and why (e.g. the record's value)."""

MARKER = ("X-Served-By", "target")
"""The header the target's app adds to its answers (the playbook's `expect_header`)."""


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _SiteHandler)
        self.routes: dict[str, Origin] = {}


class _SiteHandler(BaseHTTPRequestHandler):
    server: _SiteServer
    server_version = "acme-demo/1.0"
    ROUTES: dict[str, tuple[str, bytes]] = {
        "/healthz": ("text/plain", b"ok\n"),
        "/api/ping": ("application/json", b'{"pong": true}\n'),
    }

    def _side(self, host: str | None) -> tuple[Side | None, str]:
        origin = self.server.routes.get(host or "")
        if origin is None:
            return "target", "the target's own name"
        try:
            return origin()
        except Exception as exc:  # the demo's AWS may be gone: say so in a 502
            return None, f"cannot tell where {host} points: {exc}"

    def _answer(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        first, _, rest = path.lstrip("/").partition("/")
        host: str | None = None
        if "." in first:  # a host name: the routes' first segments have no dot
            host, path = first.lower(), f"/{rest}"
        side, why = self._side(host)
        route = self.ROUTES.get(path)
        headers: list[tuple[str, str]] = []
        if side is None:
            status, ctype, payload = 502, "text/plain", f"no origin: {why}\n".encode()
        elif route is None:
            status, ctype, payload = 404, "text/plain", b"not found\n"
        else:
            status, (ctype, payload) = 200, route
        if side == "target":
            headers.append(MARKER)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stderr belongs to the terminal app


def dns_origin(world: DemoWorld) -> Origin:
    """The side the world's app record points at, read from the emulated zone at each call."""

    def origin() -> tuple[Side | None, str]:
        route53 = world.client("target", "route53")
        sets = read_record_sets(route53, world.zone_id, world.record_name, "A")
        values = sorted(
            str(r["Value"]) for record_set in sets for r in record_set.get("ResourceRecords", [])
        )
        why = f"{world.record_name} A {', '.join(values) or '(none)'}"
        if values and set(values) == {world.target_ip}:
            return "target", why
        if values and set(values) == {world.source_ip}:
            return "source", why
        return None, f"{why}: neither side's address"

    return origin


class DemoSite:
    """The app the synthetic checks probe: a tiny web server on 127.0.0.1."""

    ROUTES = tuple(_SiteHandler.ROUTES)
    """The paths it serves (200); anything else is a 404."""

    def __init__(self) -> None:
        self._server: _SiteServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[str, Origin] = {}

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the demo site is not running")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def route(self, name: str, origin: Origin) -> None:
        """Answer for `name` as the side `origin()` names at each request."""
        self._routes[name.rstrip(".").lower()] = origin
        if self._server is not None:
            self._server.routes = dict(self._routes)

    def follow_dns(self, world: DemoWorld) -> None:
        """The app's name answers from wherever the world's record points: the flip moves it."""
        self.route(world.record_name, dns_origin(world))

    def start(self) -> DemoSite:
        if self._server is None:
            self._server = _SiteServer()
            self._server.routes = dict(self._routes)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="demo-site", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
