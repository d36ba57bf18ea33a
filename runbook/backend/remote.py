"""The run's state, lease and DNS snapshot as S3 objects.

State is replaced with `If-Match` on the ETag it read, so no update is lost
between two machines; the lease is created with `If-None-Match: *` and renewed
or taken over with `If-Match`; the snapshot is created once and never
overwritten. Each keeps working locally when S3 does not answer in time, so an
emergency never waits on it: the state change goes to the local mirror, and
`runbook sync` carries the rollback's milestones up later.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runbook.backend.store import BackendUnavailable, Conflict, ObjectStore
from runbook.durable import atomic_write
from runbook.lease import Holder, LeaseHeld, RunLease, expect, new_holder
from runbook.state import RunState

STATE_OBJECT = "state.json"
LEASE_OBJECT = "lease.json"
SNAPSHOT_OBJECT = "dns-snapshot.json"
MAX_RACES = 50


class S3State:
    """The shared run state: read with its ETag, changed, written back only if unchanged.

    `audit_head` is each machine's own: it cross-checks that machine's local log,
    so it stays in the local mirror and is never shared.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.local_only: str | None = None  # why the last change stayed local

    def _read(self) -> tuple[RunState, str] | None:
        got = self.store.get(STATE_OBJECT)
        if got is None:
            return None
        return RunState.model_validate_json(got[0]), got[1]

    def exists(self) -> bool:
        try:
            return self._read() is not None
        except BackendUnavailable:
            return False

    def load(self, local: RunState) -> RunState:
        try:
            found = self._read()
        except BackendUnavailable as exc:
            self.local_only = str(exc)
            return local
        if found is None:
            return local
        return found[0].model_copy(update={"audit_head": local.audit_head})

    def update(self, local: RunState, change: Callable[[RunState], object]) -> RunState:
        """Apply `change` to the shared state as it is now; locally if S3 does not answer."""
        try:
            for _race in range(MAX_RACES):
                found = self._read()
                fresh = local.model_copy(deep=True) if found is None else found[0]
                fresh.audit_head = local.audit_head
                change(fresh)
                body = fresh.model_copy(update={"audit_head": None}).model_dump_json(indent=2)
                try:
                    if found is None:
                        self.store.create(STATE_OBJECT, body.encode())
                    else:
                        self.store.replace(STATE_OBJECT, body.encode(), found[1])
                except Conflict:
                    continue  # another machine changed it since we read: apply to theirs
                self.local_only = None
                return fresh
            raise Conflict(f"the shared state changed {MAX_RACES} times while writing it")
        except BackendUnavailable as exc:
            self.local_only = str(exc)
            change(local)
            return local

    def merge_rollback(self, local: RunState) -> bool:
        """Carry a rollback recorded only locally up to the shared state; True if it did."""
        rolled = local.dns.rolled_back_at
        if rolled is None:
            return False
        found = self._read()
        shared = found[0].dns.rolled_back_at if found is not None else None
        if shared is not None and shared >= rolled:
            return False
        flipped = found[0].dns.flipped_at if found is not None else None
        if flipped is not None and flipped > rolled:
            return False  # flipped again since (a flip clears rolled_back_at): it stands

        def merge(state: RunState) -> None:
            state.dns.rolled_back_at = rolled
            state.dns.rollback_confirmed = local.dns.rollback_confirmed
            if local.dns.rollback_confirmed and local.dns.flipped_at is None:
                state.dns.flipped_at = None  # the rollback's own patch clears it: so here
            for step_id, saved in local.steps.items():
                if saved.status.value == "pending" and state.step(step_id).status.value == "done":
                    state.steps[step_id] = saved  # the rollback reset it: done again later

        self.update(local, merge)
        return self.local_only is None


class S3Lease(RunLease):
    """The run's lease as `lease.json` in S3; a released lease is a `released` marker."""

    def __init__(self, store: ObjectStore, state_dir: Path) -> None:
        super().__init__(state_dir)
        self.store = store

    def _read(self) -> tuple[Holder | None, str | None]:
        got = self.store.get(LEASE_OBJECT)
        if got is None:
            return None, None
        try:
            raw: dict[str, Any] = json.loads(got[0])
            return (None if raw.get("released") else Holder(**raw)), got[1]
        except (ValueError, TypeError):
            return None, got[1]  # an unreadable lease protects nobody

    def _put(self, holder: Holder | None, etag: str | None) -> None:
        body = json.dumps(asdict(holder) if holder else {"released": True}, indent=2).encode()
        if etag is None:
            self.store.create(LEASE_OBJECT, body)
        else:
            self.store.replace(LEASE_OBJECT, body, etag)

    def current(self) -> Holder | None:
        return self._read()[0]

    def acquire(self, *, local_user: str, aws_arn: str | None) -> tuple[Holder, Holder | None]:
        for _race in range(MAX_RACES):
            now = time.time()
            previous, etag = self._read()
            if previous is not None and previous.alive(now):
                raise LeaseHeld(f"the run's lease is held by {previous.describe(now)}")
            mine = new_holder(local_user, aws_arn, now)
            try:
                self._put(mine, etag)
            except Conflict:
                continue  # someone else took or renewed it meanwhile: look again
            return mine, previous
        raise LeaseHeld("the run's lease changed hands repeatedly; try again")

    def renew(self, mine: Holder) -> bool:
        """False only when the lease is seen to be someone else's (or released): S3 not
        answering, or a write racing ours, is tried again at the next beat."""
        try:
            held, etag = self._read()
            if held is None or held.token != mine.token:
                return False
            self._put(Holder(**{**asdict(held), "heartbeat": time.time()}), etag)
        except (Conflict, BackendUnavailable):
            pass
        return True

    def release(self, mine: Holder) -> None:
        try:
            held, etag = self._read()
            if held is not None and held.token == mine.token:
                self._put(None, etag)
        except (Conflict, BackendUnavailable):
            pass  # it expires by its heartbeat

    def break_(self, expected_token: str | None = None) -> Holder | None:
        for _race in range(MAX_RACES):
            held, etag = self._read()
            expect(held, expected_token)
            if etag is None:
                return held
            try:
                self._put(None, etag)  # If-Match: only the holding just read
            except Conflict:
                continue  # a heartbeat renewed it meanwhile: look again
            return held
        raise LeaseHeld("the run's lease changed repeatedly while breaking it; try again")


def publish_snapshot(store: ObjectStore, path: Path) -> None:
    """The pre-flip snapshot, created once: a later one never replaces the first."""
    # Already there: the first snapshot is the state before the first flip.
    with contextlib.suppress(Conflict):
        store.create(SNAPSHOT_OBJECT, path.read_bytes())


def pull_snapshot(store: ObjectStore, path: Path) -> bool:
    """The shared snapshot into the local mirror when this machine has none; True if so."""
    if path.exists():
        return False
    got = store.get(SNAPSHOT_OBJECT)
    if got is None:
        return False
    atomic_write(path, got[0])
    return True
