"""`runbook rollback`, once its outcome is recorded and printed: what it did not undo."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.aws.session import SessionFactory
from runbook.dns.aftermath import Aftermath, UserCount, assess, count_changed_users
from runbook.dns.rollback import RollbackResult
from runbook.files import AUDIT_FILE, STATE_FILE
from runbook.model import Runbook
from runbook.state import RunState, StateStore


def print_aftermath(
    model: Runbook | None,
    state_dir: Path,
    sessions: SessionFactory | None,
    result: RollbackResult,
) -> None:
    """The caveats on stdout, the user count last (it reads every page of the target pool).

    Only after a confirmed rollback: otherwise the manual command is what matters.
    ctrl+c during the count ends the count, nothing else: DNS is already back.
    """
    if not result.confirmed:
        return
    try:
        state = StateStore(state_dir / STATE_FILE).load()
    except (OSError, ValueError):
        state = RunState()
    aftermath = (
        assess(model, state, state_dir / AUDIT_FILE) if model is not None else Aftermath(None)
    )
    *known, _users = aftermath.caveats()
    print("\n".join(known), flush=True)
    if model is None or sessions is None:
        print(UserCount(None, False, "the runbook is unusable").line())
        return
    try:
        users = count_changed_users(sessions, model, aftermath.flipped_at)
    except KeyboardInterrupt:
        users = UserCount(None, False, "interrupted")
    print(users.line())
    for warning in aftermath.warnings(asking=False):
        print(warning, file=sys.stderr)
