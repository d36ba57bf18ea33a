"""`python -m bench._emulator_child REGION [--processes N]`: the emulator in a process of its own.

Prints the emulator's environment as one JSON line on stdout once it answers,
then serves until its stdin closes (the parent leaving), and stops. Like moto's
own server, it closes each connection after its response (werkzeug's server
cannot keep one open), so every call pays a loopback TCP connect that a client
of AWS, whose connections stay pooled, would not.

By default it is the demo's emulator (`runbook.demo.emulator.Emulator`), which
answers one request at a time: moto's backends are not thread-safe for every
write. `--processes N` serves from N forked moto servers sharing one listening
socket, each answering on threads, so requests sent at once are answered at
once, on both cores, as AWS answers them. Each process has its own moto
world, so it is only for benchmarks whose requests need no shared state: the
gate's sixteen `sts:GetCallerIdentity` would otherwise queue in moto, one
interpreter's worth of CPU, and time the emulator instead of the gate.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from types import SimpleNamespace
from typing import cast

from runbook.demo.emulator import LOOPBACK, Emulator


def _serve(listener: socket.socket, parent: int) -> None:
    """One worker: moto's own WSGI app and request handler, on the shared socket."""
    import logging
    import threading
    import time

    def orphaned() -> None:  # the parent killed outright: never serve on without it
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = DomainDispatcherApplication(create_backend_app)
    port = listener.getsockname()[1]
    server = make_server(
        LOOPBACK, port, app, True, request_handler=MotoRequestHandler, fd=listener.fileno()
    )
    server.serve_forever()


def _prefork(region: str, processes: int) -> None:
    import moto.server  # noqa: F401 - imported once, before the fork, for every worker

    listener = socket.create_server((LOOPBACK, 0), backlog=128)
    workers = []
    parent = os.getpid()
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            try:
                _serve(listener, parent)
            finally:
                os._exit(0)
        workers.append(pid)
    endpoint = f"http://{LOOPBACK}:{listener.getsockname()[1]}"
    # The demo emulator's environment for this endpoint, the one description of it.
    shown = SimpleNamespace(endpoint_url=endpoint, region=region)
    print(json.dumps(Emulator.environ(cast(Emulator, shown))), flush=True)
    try:
        sys.stdin.read()  # until EOF
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
        for pid in workers:
            os.waitpid(pid, 0)
        listener.close()


def main() -> None:
    args = sys.argv[1:]
    processes = int(args[args.index("--processes") + 1]) if "--processes" in args else 0
    region = args[0] if args and not args[0].startswith("--") else "us-east-1"
    if processes:
        _prefork(region, processes)
        return
    with Emulator(region=region) as emu:
        print(json.dumps(emu.environ()), flush=True)
        sys.stdin.read()  # until EOF


if __name__ == "__main__":
    main()
