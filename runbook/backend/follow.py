"""Following a shared run: what the other machines changed since this one last looked.

The app polls this every few seconds for a run on S3: the state object's ETag (a
HEAD), the lease (who is acting now, from where) and the audit records after the
last one seen; when the state changed and this machine has no DNS snapshot, the
shared one (another machine flipped), so that the rollback key works here too.
The records land in `shared-audit.jsonl` in the state directory, a
mirror of the shared chain as S3 holds it, which the app's timeline reads and
`runbook audit verify` checks like any log. S3 stays the truth: the mirror is
rebuilt whenever it does not continue the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.audit.record import canonical
from runbook.backend.remote import STATE_OBJECT, pull_snapshot
from runbook.backend.s3 import S3Backend
from runbook.backend.store import NotFound
from runbook.dns.snapshot import SNAPSHOT_FILE
from runbook.durable import AppendOnlyFile, atomic_write_lines
from runbook.files import SHARED_AUDIT_FILE
from runbook.lease import Holder
from runbook.state import RunState, StateStore


@dataclass(frozen=True)
class FollowUpdate:
    """One look at the shared run."""

    state_changed: bool
    holder: Holder | None
    new_records: list[dict[str, Any]] = field(default_factory=list)
    first: bool = False  # the first look: `new_records` is the whole history, not news


class RunFollower:
    """Polls one S3 run; not thread-safe (the app polls from one worker at a time)."""

    def __init__(self, backend: S3Backend, state_dir: Path) -> None:
        self.backend = backend
        self.mirror = state_dir / SHARED_AUDIT_FILE
        self.snapshot = state_dir / SNAPSHOT_FILE
        self._etag: str | None = None
        self._seq = 0
        self._hash: str | None = None
        self._file: AppendOnlyFile | None = None
        self._looked = False
        self._local_size = -1

    def push_local(self, state_path: Path) -> None:
        """What another process on this machine wrote only here (`runbook rollback` never
        waits on S3): its records and its rollback go up, as `runbook sync` would push them.
        Only when this machine's log grew: a stat per look otherwise."""
        sink = self.backend.sink
        audit = sink.audit_path if sink is not None else None
        size = audit.stat().st_size if audit is not None and audit.exists() else 0
        if sink is None or size == self._local_size:
            return
        self._local_size = size
        sink.catch_up()
        self.backend.state.merge_rollback(StateStore(state_path).load())  # the file alone

    def mirror_state(self, shared: RunState, state_path: Path) -> None:
        """The shared state into this machine's file, which `runbook rollback` (never
        waiting on S3) changes in an emergency: unless that file holds a rollback the
        shared state does not have yet (`push_local` carries it up at the next look)."""
        store = StateStore(state_path)  # the file alone
        with store.locked():
            local = store.load()
            mine, theirs = local.dns.rolled_back_at, shared.dns.rolled_back_at
            if mine is not None and (theirs is None or mine > theirs):
                return
            store.save(shared.model_copy(update={"audit_head": local.audit_head}))

    def poll(self) -> FollowUpdate:
        """Raises OSError (`BackendUnavailable`) when S3 does not answer: nothing changed."""
        try:
            etag: str | None = str(self.backend.store.head(STATE_OBJECT)["ETag"])
        except NotFound:
            etag = None
        changed, self._etag = etag != self._etag, etag
        holder = self.backend.lease().current()
        fresh = self.backend.chain.records(after=self._seq)
        # Another machine flipped: our rollback key needs its snapshot. It is in S3 before
        # the record that vouches for it, which may arrive after the state says flipped.
        saved = any(r.get("event") == "dns.snapshot_saved" for r in fresh)
        if (changed or saved) and not self.snapshot.exists():
            pull_snapshot(self.backend.store, self.snapshot)
        if fresh:
            self._mirror(fresh)
        first, self._looked = not self._looked, True
        return FollowUpdate(changed, holder, fresh, first)

    def _mirror(self, fresh: list[dict[str, Any]]) -> None:
        if self._file is None:
            self._file = self._open(fresh)
        else:
            continues = fresh[0].get("prev_hash") == self._hash
            if not continues:  # the shared chain is not what we mirrored: start again
                self._file = self._rebuild()
                return
            with self._file.exclusive():
                for record in fresh:
                    self._file.append(canonical(record) + b"\n", sync=False)
        self._seq, self._hash = int(fresh[-1]["seq"]), str(fresh[-1]["hash"])

    def _open(self, fresh: list[dict[str, Any]]) -> AppendOnlyFile:
        """The first look holds the whole chain: the mirror is written anew from it, so
        whatever was on disk (another run's, or edited) is not carried over."""
        atomic_write_lines(self.mirror, (canonical(r).decode() for r in fresh))
        return AppendOnlyFile(self.mirror)

    def _rebuild(self) -> AppendOnlyFile:
        records = self.backend.chain.records()
        atomic_write_lines(self.mirror, (canonical(r).decode() for r in records))
        if records:
            self._seq, self._hash = int(records[-1]["seq"]), str(records[-1]["hash"])
        return AppendOnlyFile(self.mirror)
