"""`python -m bench._cognito_child STATE_DIR SOURCE_POOL TARGET_POOL RATE`: one force-migration.

A fresh process per user count, so its peak resident memory is the
migration's alone (the emulator, holding both pools, is the parent). The
source is reached as the tool reaches it: the session factory's guarded client
through the assumed role. Prints one JSON line: counts, time, and memory.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from runbook.aws.session import SessionFactory
from runbook.model import Runbook
from tests.support.runbooks import base_runbook


def _status_kib(field: str) -> int:
    """A `/proc/self/status` figure in KiB (VmRSS now, VmHWM the peak so far)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main() -> None:
    state_dir, source_pool, target_pool, rate = sys.argv[1:5]
    from runbook.cognito import force_migrate as cognito

    force_migrate: Any = cognito.force_migrate
    sessions = SessionFactory(Runbook.model_validate(base_runbook()).accounts)
    source = sessions.client("source", "cognito-idp")
    target = sessions.client("target", "cognito-idp")
    # Credentials (the assumed role), connections and service models are loaded
    # before the baseline: what is left is what the migration itself holds.
    source.describe_user_pool(UserPoolId=source_pool)
    target.describe_user_pool(UserPoolId=target_pool)
    baseline_kib = _status_kib("VmRSS")
    begun = time.perf_counter()
    report = force_migrate(
        source,
        target,
        source_pool=source_pool,
        target_pool=target_pool,
        state_dir=Path(state_dir),
        rate_per_second=float(rate),
        workers=4,
    )
    elapsed = time.perf_counter() - begun
    data = report.to_json() if hasattr(report, "to_json") else {}
    counts = data.get("counts", {})
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the
    # parent (the emulator holding every user) as it was when this process was forked.
    peak_kib = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "created": counts.get("created"),
                "failed": counts.get("failed"),
                "finished": data.get("finished"),
                "summary": data.get("summary"),
                "elapsed_s": elapsed,
                "baseline_kib": baseline_kib,
                "peak_kib": peak_kib,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
