"""Child process for the kill-and-restart test: force-migrates against moto's server.

`python -m tests.cognito.force_child STATE_DIR SOURCE_POOL TARGET_POOL KILL_AFTER [WORKERS]`
SIGKILLs itself right after its KILL_AFTER-th AdminCreateUser reached the
server (0: never), the worst moment: the user exists in the target, but its
groups, password state and sub-map row are not written yet. Otherwise it
prints the report as JSON.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from runbook.aws.session import SessionFactory
from runbook.cognito.force_migrate import force_migrate
from runbook.model import Runbook
from tests.support.runbooks import base_runbook


def main() -> None:
    state_dir, source_pool, target_pool, kill_after = sys.argv[1:5]
    workers = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    sessions = SessionFactory(Runbook.model_validate(base_runbook()).accounts)
    source = sessions.client("source", "cognito-idp")
    target = sessions.client("target", "cognito-idp")
    if int(kill_after) > 0:
        counter = itertools.count(1)
        lock = threading.Lock()

        def after_create(**_kwargs: Any) -> None:
            with lock:
                if next(counter) == int(kill_after):
                    os.kill(os.getpid(), signal.SIGKILL)

        target.meta.events.register("after-call.cognito-idp.AdminCreateUser", after_create)
    report = force_migrate(
        source,
        target,
        source_pool=source_pool,
        target_pool=target_pool,
        state_dir=Path(state_dir),
        rate_per_second=10_000,
        workers=workers,
    )
    print(json.dumps(report.to_json()), flush=True)


if __name__ == "__main__":
    main()
