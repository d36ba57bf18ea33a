"""Child process: appends records to a shared log and reports each acknowledged one.

`append PATH NAME COUNT`: COUNT records, printing `seq hash` after each returns.
`hold PATH`: takes the log's append lock, prints `holding`, and waits to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.audit.log import AuditLog


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else "holder"
    log = AuditLog(path, run_id="shared", environment="rehearsal", operator={"local_user": name})
    if mode == "hold":
        with log._file.exclusive():
            print("holding", flush=True)
            time.sleep(600)
        return
    for n in range(int(sys.argv[4])):
        record = log.record("test.append", step=None, writer=name, n=n)
        print(f"{record['seq']} {record['hash']}", flush=True)


if __name__ == "__main__":
    main()
