"""Mixed into the app: what keeps the rollback key's path short.

When the rollback question opens, the rollback's client is built in a thread
(`Runtime.prepare_rollback`), so `y` goes straight to the audited intent and the
request. Once the run has loaded (accounts checked), what start-up built is
frozen out of the garbage collector's full passes.

While the app runs, two interpreter settings change, and are restored at exit:

- Full collections are the app's to schedule. Left to CPython, one runs whenever
  enough objects have outlived two young collections, which a gate's clients
  produce: it holds the GIL for 50 to 250 ms, stalling the loop and the
  rollback's worker alike, in the middle of the gate. So CPython does only the
  young collections (cheap: they walk new objects alone), and the app looks
  every `QUIET_COLLECT_S`: when CPython would have run a full one by now and no
  gate and no rollback is under way, it runs it; past `MAX_DEFER_S` it runs it
  regardless (a stuck gate does not grow memory without bound). What survives
  a full pass is frozen, so the next walks only what is newer (the run's
  rendering caches alone made it 300 to 450 ms); the price, a cycle among
  frozen objects that dies later (a closed dialog, a replaced client) waits
  for the sweep every `SWEEP_S`, which unfreezes and walks everything once.
- The GIL's switch interval drops from 5 ms to 1 ms. The app's threads mostly
  wait on the network; one coming back from the rollback's fsync or socket
  waits up to an interval for the GIL while checks' threads parse responses,
  several times on its way to the wire (13 to 109 ms with ten checks polling,
  against 25 to 32 ms at 1 ms, in `python -m bench keystroke`).
"""

from __future__ import annotations

import gc
import sys
import time
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from textual.app import App

    from runbook.runtime import Runtime
    from screens.messages import IdentityChecked

QUIET_COLLECT_S = 10.0
MAX_DEFER_S = 120.0
SWEEP_S = 1800.0
URGENT_GROUPS = frozenset({"gate", "rollback"})
NO_AUTOMATIC_FULL = 1 << 30  # gen-2 threshold: young collections never escalate to a full one
SWITCH_INTERVAL_S = 0.001


class RollbackReady:
    runtime: Runtime | None
    _thresholds: tuple[int, int, int] | None = None
    _switch_interval: float | None = None
    _collected_at = 0.0
    _swept_at = 0.0

    def action_rollback(self) -> None:
        if self.runtime is not None and self.runtime.snapshot_path.exists():
            self.runtime.prepare_rollback()
        super().action_rollback()  # type: ignore[misc]  # the question (RollbackDialog)

    def on_identity_checked(self, _message: IdentityChecked) -> None:
        gc.freeze()  # the run has loaded: what is alive now lives as long as the app

    def tune_interpreter(self) -> None:
        """At mount: full collections only when `collect_if_quiet` says; a shorter GIL slice."""
        young, middle, full = gc.get_threshold()
        self._thresholds = (young, middle, full)
        gc.set_threshold(young, middle, NO_AUTOMATIC_FULL)
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(SWITCH_INTERVAL_S, self._switch_interval))
        self._collected_at = self._swept_at = time.monotonic()
        cast("App[Any]", self).set_interval(QUIET_COLLECT_S, self.collect_if_quiet)

    def collect_if_quiet(self) -> None:
        due = self._thresholds is not None and gc.get_count()[2] >= self._thresholds[2]
        if not due:
            return  # CPython would not have run one yet either
        now = time.monotonic()
        urgent = any(
            worker.group in URGENT_GROUPS and worker.is_running
            for worker in cast("App[Any]", self).workers
        )
        if urgent and now - self._collected_at < MAX_DEFER_S:
            return
        if now - self._swept_at >= SWEEP_S:
            gc.unfreeze()
            self._swept_at = now
        gc.collect()
        gc.freeze()
        self._collected_at = time.monotonic()

    def on_unmount(self) -> None:
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
