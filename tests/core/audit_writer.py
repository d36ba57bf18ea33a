"""Child process for the kill test: appends records, reporting each acknowledged seq."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.audit.log import AuditLog


def main() -> None:
    log = AuditLog(Path(sys.argv[1]), run_id="kill", environment="rehearsal", operator={"u": "t"})
    for n in range(100_000):
        record = log.record("test.tick", step="s", n=n, padding="x" * (n % 300))
        # Only after record() returned (fsync done) is the seq reported as written.
        sys.stdout.write(f"{record['seq']}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
