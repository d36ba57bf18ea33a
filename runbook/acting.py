"""The run's lease around an action, and taking it over from another operator.

An action holds the lease (`runbook.lease`) from before its intent to after its
outcome. A dead holder's lease is taken over, audited. A live holder's lease is
taken over only explicitly, by a person who says why (`take_over`), audited and
announced; the displaced action notices at its next heartbeat, and a wait or a
watch then pauses as if its app had quit (`LeaseLost`), leaving its intent open
for the next `do` to reconcile. An action already sending (a flip) finishes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import asdict

from runbook.action_types import ActionInterrupted, GateNotPassed
from runbook.audit.record import EventName
from runbook.lease import MIN_REASON_CHARS, Holder, LeaseHeld, RunLease
from runbook.runtime import Runtime


class LeaseLost(ActionInterrupted):
    """Another operator took the lease over while this action ran; it paused, undecided."""


def lease_of(rt: Runtime) -> RunLease:
    """The run's lease where the run lives: the state directory, or the S3 backend."""
    return rt.backend.lease() if rt.backend is not None else RunLease(rt.state_dir)


@contextlib.contextmanager
def holding_lease(rt: Runtime, step_id: str) -> Iterator[threading.Event]:
    """Hold the lease for the block; yields the flag set if it is taken over meanwhile."""
    lease = lease_of(rt)
    try:
        mine, dead = lease.acquire(
            local_user=str(rt.audit.operator.get("local_user") or "?"),
            aws_arn=rt.audit.operator.get("aws_arn"),
        )
    except (LeaseHeld, OSError) as exc:  # OSError: the run backend did not answer
        rt.audit.record("action.refused", step=step_id, reason=str(exc))
        raise GateNotPassed(str(exc)) from None
    if dead is not None:
        rt.audit.record(
            EventName.LEASE_TAKEN_OVER,
            step=step_id,
            previous=asdict(dead),
            reason="its holder is dead (process gone, or no heartbeat)",
        )
    lost = threading.Event()

    def on_lost() -> None:  # in the heartbeat's thread: the log says when this one knew
        lost.set()
        rt.audit.record(
            EventName.LEASE_LOST,
            step=step_id,
            reason="another operator took the run's lease over (or broke it); a wait or a "
            "watch pauses here, an action already sending finishes",
        )

    with lease.heartbeat(mine, on_lost=on_lost):
        try:
            yield lost
        except ActionInterrupted as exc:
            if lost.is_set() and not isinstance(exc, LeaseLost):
                raise LeaseLost(
                    f"{exc}; another operator took the run's lease over", exc.details
                ) from exc
            raise


def acting_elsewhere(rt: Runtime) -> Holder | None:
    """The live holder of the lease when it is not this process: someone is acting."""
    holder = lease_of(rt).current()
    if holder is None or not holder.alive():
        return None
    return None if holder.is_this_process() else holder


def take_over(rt: Runtime, seen: Holder, reason: str) -> Holder:
    """Take the lease from the holder the operator saw (and only that one), audited.

    Nobody holds it afterwards: this operator's next action acquires it as usual.
    """
    reason = reason.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise ValueError(f"say why, in at least {MIN_REASON_CHARS} characters; nothing changed")
    previous = lease_of(rt).break_(expected_token=seen.token)
    assert previous is not None  # break_ refuses unless it found `seen`
    rt.audit.record(
        EventName.LEASE_TAKEN_OVER, previous=asdict(previous), reason=reason, explicit=True
    )
    return previous
