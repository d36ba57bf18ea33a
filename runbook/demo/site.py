"""The synthetic site: the 'target app' the demo's synthetic checks probe, on 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from runbook.demo.emulator import LOOPBACK


class _SiteHandler(BaseHTTPRequestHandler):
    server_version = "acme-demo/1.0"
    ROUTES: dict[str, tuple[str, bytes]] = {
        "/healthz": ("text/plain", b"ok\n"),
        "/api/ping": ("application/json", b'{"pong": true}\n'),
    }

    def _answer(self, body: bool) -> None:
        route = self.ROUTES.get(self.path.split("?", 1)[0])
        status, (ctype, payload) = (200, route) if route else (404, ("text/plain", b"not found\n"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stderr belongs to the terminal app


class DemoSite:
    """The 'target app' the synthetic checks probe: a tiny web server on 127.0.0.1."""

    ROUTES = tuple(_SiteHandler.ROUTES)
    """The paths it serves (200); anything else is a 404."""

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the demo site is not running")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> DemoSite:
        if self._server is None:
            self._server = ThreadingHTTPServer((LOOPBACK, 0), _SiteHandler)
            self._server.daemon_threads = True
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
