"""Child process: takes the run's lease as `runbook do` would, prints `holding`, waits to die."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.lease import RunLease


def main() -> None:
    lease = RunLease(Path(sys.argv[1]))
    mine, _dead = lease.acquire(local_user="alice@laptop", aws_arn=None)
    with lease.heartbeat(mine, every_s=0.5):
        print("holding", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main()
