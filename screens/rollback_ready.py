"""Mixed into the app: what keeps the rollback key's path short.

When the rollback question opens, the rollback's client is built in a thread
(`Runtime.prepare_rollback`), so `y` goes straight to the audited intent and the
request. Once the run has loaded (accounts checked), what start-up built is
frozen out of the garbage collector's full passes, which otherwise walk it all
and stall every thread, the rollback's included.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.runtime import Runtime
    from screens.messages import IdentityChecked


class RollbackReady:
    runtime: Runtime | None

    def action_rollback(self) -> None:
        if self.runtime is not None and self.runtime.snapshot_path.exists():
            self.runtime.prepare_rollback()
        super().action_rollback()  # type: ignore[misc]  # the question (RollbackDialog)

    def on_identity_checked(self, _message: IdentityChecked) -> None:
        gc.freeze()  # the run has loaded: what is alive now lives as long as the app
