"""Child process for the crash-point tests: flips DNS and SIGKILLs itself at one point."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from runbook.engine import Engine
from runbook.runtime import Runtime


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    path, point = sys.argv[1], sys.argv[2]
    runtime = Runtime.open(path)
    engine = Engine(runtime)
    original = runtime.audit.record

    def record(event: str, **kwargs: Any) -> dict[str, Any]:
        if event == "action.intent" and point == "before_intent":
            die()
        if event == "action.outcome" and point == "before_outcome":
            die()
        written = original(event, **kwargs)
        if event == "action.intent" and point == "after_intent":
            die()
        return written

    runtime.audit.record = record  # type: ignore[method-assign]
    if point == "after_send":
        runtime.sessions.session("target").events.register(
            "after-call.route53.ChangeResourceRecordSets", lambda **_: die()
        )
    assert engine.run_gate("flip-dns").passed
    engine.do("flip-dns", confirmed=True)
    print("not killed", flush=True)


if __name__ == "__main__":
    main()
