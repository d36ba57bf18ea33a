"""The embedded AWS emulator: moto's server, in this process, on a loopback port.

`runbook demo` and the tests run the tool unchanged against it: botocore
honours `AWS_ENDPOINT_URL` for every client (STS included), so the only
difference from a cutover is the environment `Emulator.environ()` describes.
The server listens on 127.0.0.1 only, on a port the kernel picks, and is
really gone after `stop()` (its listening socket closed, not just idle).

moto (the `runbook[demo]` extra) is imported when the server starts, not with
this module: its constants and `port_open` work without it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runbook.checkapi import EMULATOR_ENV

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"


def _serial_server() -> ThreadedMotoServer:
    """moto's server answering one request at a time.

    moto's backends are not thread-safe: a user pool whose username is an email
    iterates its users while another request adds one ("OrderedDict mutated
    during iteration"), which broke the demo's seeding and its force-migration
    (four workers). AWS has no such limit; the emulator serialises requests.
    """
    from moto.moto_server.werkzeug_app import (  # the demo extra: only when serving
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serial(environ: Any, start_response: Any) -> list[bytes]:
                with lock:  # the body too: moto may build it lazily
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, serial, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialMotoServer(ip_address=LOOPBACK, port=0, verbose=False)


DEFAULT_REGION = "eu-west-1"
# Obviously fake and shaped unlike real keys (AKIA.../ASIA...): moto accepts any.
DEMO_ACCESS_KEY = "demo-access-key"
DEMO_SECRET_KEY = "demo-secret-key-not-a-real-secret"

# Set to these values while the emulator's environment is applied; anything the
# caller had under these names is restored afterwards.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
_NO_PROXY = ("NO_PROXY", "no_proxy")


class EmulatorError(RuntimeError):
    """The emulator could not start or answer."""


def _no_proxy_value(current: str | None) -> str:
    """NO_PROXY with loopback added: a proxy from the environment must never see our traffic."""
    entries = [e.strip() for e in (current or "").split(",") if e.strip()]
    for host in (LOOPBACK, "localhost"):
        if host not in entries:
            entries.append(host)
    return ",".join(entries)


class Emulator:
    """moto's server on a free loopback port; a context manager that also applies its env.

    `with Emulator() as emu:` starts the server and points this process's AWS
    configuration at it; leaving the block restores the environment and stops
    the server. `start()`/`stop()` and `apply_environ()`/`restore_environ()`
    are there for callers that need the two halves apart.
    """

    def __init__(self, *, region: str = DEFAULT_REGION) -> None:
        self.region = region
        self._server: ThreadedMotoServer | None = None
        self._port: int | None = None
        self._saved: dict[str, str | None] | None = None
        self._lock = threading.Lock()

    # --- server -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmulatorError("the emulator is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Emulator:
        with self._lock:
            if self._server is not None:
                return self
            # werkzeug logs every request to stderr, which would scribble over the
            # terminal app. Its errors (an API moto lacks, as a 500 with a traceback)
            # still reach the app's log; the command line keeps them off the terminal.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            # Port 0: the kernel picks a free port at bind time, so no other
            # process can take it between choosing and binding.
            server = _serial_server()
            server.start()
            host, port = server.get_host_and_port()
            if host != LOOPBACK:  # pragma: no cover - moto binds what it is given
                server.stop()
                raise EmulatorError(f"emulator bound to {host}, not {LOOPBACK}")
            self._server, self._port = server, port
        # moto's backends are process-wide: start from an empty world.
        self.reset()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        try:
            self.reset_backends()
        finally:
            server.stop()
            # ThreadedMotoServer.stop() ends serve_forever() but leaves the socket
            # bound and listening: the kernel would still complete connections.
            inner: Any = getattr(server, "_server", None)
            if inner is not None:
                inner.server_close()
            self._port = None

    def reset(self) -> None:
        """Empty every moto backend (the emulator's whole world)."""
        self._post("/moto-api/reset")

    def reset_backends(self) -> None:
        # In-process equivalent of /moto-api/reset, for when the server is stopping.
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    def _post(self, path: str) -> None:
        # An opener without proxy handlers: loopback traffic goes straight to the socket.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(self.endpoint_url + path, data=b"", method="POST")
        try:
            with opener.open(request, timeout=10) as response:
                response.read()
        except OSError as exc:
            raise EmulatorError(f"emulator at {self.endpoint_url} did not answer: {exc}") from exc

    def accepts_connections(self) -> bool:
        """Whether anything accepts a TCP connection on the emulator's port now."""
        port = self._port
        if port is None:
            return False
        return port_open(port)

    # --- environment ------------------------------------------------------------

    def environ(self) -> dict[str, str]:
        """What the app (this process or a child) needs to talk to the emulator only."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": DEMO_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DEMO_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            # Shared config/credentials files could name SSO, processes or roles
            # that reach real AWS: point them at nothing.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            EMULATOR_ENV: "1",
            # moto would otherwise build ~1300 AMIs per EC2 backend, seconds each.
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            "NO_PROXY": _no_proxy_value(os.environ.get("NO_PROXY")),
            "no_proxy": _no_proxy_value(os.environ.get("no_proxy")),
        }

    def apply_environ(self) -> None:
        """Point this process at the emulator; `restore_environ()` undoes exactly this."""
        if self._saved is not None:
            return
        wanted = self.environ()
        names = [*wanted, *_CLEARED]
        self._saved = {name: os.environ.get(name) for name in names}
        for name in _CLEARED:
            os.environ.pop(name, None)
        os.environ.update(wanted)

    def restore_environ(self) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        _restore(saved)

    @property
    def environ_applied(self) -> bool:
        return self._saved is not None

    @contextmanager
    def applied(self) -> Iterator[Emulator]:
        """`with emu.applied():` the emulator's environment for the block, unless already on."""
        if self.environ_applied:
            yield self
            return
        self.apply_environ()
        try:
            yield self
        finally:
            self.restore_environ()

    # --- context manager --------------------------------------------------------

    def __enter__(self) -> Emulator:
        self.start()
        try:
            self.apply_environ()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.restore_environ()
        finally:
            self.stop()


def _restore(saved: Mapping[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Does something accept TCP connections on host:port (loopback by default)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except OSError:
            return False
        return True
