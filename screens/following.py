"""Mixed into the app: following a run that other people (or shells) drive.

Who holds the run's lease is shown under the DNS line on every screen, and `T`
takes it over, explicitly and audited, after a reason is typed. For a run on S3
the app also polls the shared run every few seconds (`runbook.backend.follow`):
the state, the lease, and the audit records of every machine, which the
timeline (`v`) then shows; what other people did is announced as it arrives.
Rollback never waits for any of this.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.binding import Binding

from screens.messages import (
    LeaseSeen,
    LeaseTakenOver,
    RunChangedOnDisk,
    SharedRunPolled,
    SnapshotFetched,
)
from screens.premises import close_stale_questions

if TYPE_CHECKING:
    from pathlib import Path

    from textual.app import App

    from runbook.backend.follow import RunFollower
    from runbook.lease import Holder
    from runbook.runtime import Runtime

FOLLOW_EVERY_S = 1.0  # how soon the app shows what another process did
SHARED_EVERY_S = 2.0  # S3 requests per look: a HEAD, a GET, a LIST (and each new record)

TAKE_OVER_BINDING = Binding(
    "T",
    "take_over",
    "Take over",
    id="take_over",
    tooltip="Take the run's lease from the operator acting now (asks why; audited, announced)",
)


class RunFollowing:
    runtime: Runtime | None
    review_path: Path | None
    follower: RunFollower | None = None
    lease_holder: Holder | None = None  # another process's holding, as last seen
    shared_trouble: str | None = None  # why S3 did not answer the last look
    others_gates: dict[str, str]  # step -> the newest gate another machine ran, in words

    _stamp: tuple[tuple[int, int], ...] = ()

    if TYPE_CHECKING:  # from App and the other mixins

        def post_message(self, message: Any) -> bool: ...
        def broadcast(self, step_id: str | None = None) -> None: ...
        def follow_watch(self) -> None: ...
        def stop_if_audit_failed(self, exc: BaseException) -> bool: ...

    # --- this machine: the run's files, which another shell may write ---------

    def follow_files(self) -> None:
        """A stat of each of the run's files every second; a re-read when one changed."""
        self._stamp = self._files_stamp()
        cast("App[Any]", self).set_interval(FOLLOW_EVERY_S, self._follow_files)

    def _files_stamp(self) -> tuple[tuple[int, int], ...]:
        """Size and mtime of the state file, the audit log and the watch: a stat each, no read."""
        from runbook.lease import LEASE_FILE
        from runbook.watch import WATCH_FILE

        assert self.runtime is not None
        stamps = []
        watch = self.runtime.state_dir / WATCH_FILE  # rewritten each round of a watch
        lease = self.runtime.state_dir / LEASE_FILE  # another shell acting
        for path in (self.runtime.store.path, self.runtime.audit.path, watch, lease):
            try:
                info = path.stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    def _follow_files(self) -> None:
        stamp = self._files_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self._reread_run()

    @work(thread=True, group="follow", exclusive=True, exit_on_error=False, description="Re-read")
    def _reread_run(self) -> None:
        """The state and the audit head as on disk, after another process (or we) wrote."""
        assert self.runtime is not None
        try:
            self.runtime.refresh_state()
            self.runtime.audit.head()
            self.follow_watch()
            self.read_local_lease()
        except Exception as exc:
            if not self.stop_if_audit_failed(exc):
                app = cast("App[Any]", self)
                app.call_from_thread(app.notify, f"could not re-read the run: {exc}")
            return
        self.post_message(RunChangedOnDisk())

    def on_run_changed_on_disk(self, _message: RunChangedOnDisk) -> None:
        app = cast("App[Any]", self)
        if not app.screen_stack:  # shutting down: nothing left to refresh
            return
        close_stale_questions(app)  # wherever they are in the stack
        self.broadcast()

    def start_following(self) -> None:
        """After the first paint: nothing here may delay it."""
        from runbook.backend.s3 import S3Backend

        runtime = self.runtime
        if runtime is None or not isinstance(runtime.backend, S3Backend):
            return
        from runbook.backend.follow import RunFollower

        self.follower = RunFollower(runtime.backend, runtime.state_dir)
        self._polling = threading.Lock()
        self.review_path = self.follower.mirror  # the timeline of every machine
        self.poll_shared()
        cast("App[Any]", self).set_interval(SHARED_EVERY_S, self.poll_shared)

    @work(thread=True, group="follow-shared", exit_on_error=False, description="Look at S3")
    def poll_shared(self) -> None:
        follower, runtime = self.follower, self.runtime
        assert follower is not None and runtime is not None
        if not self._polling.acquire(blocking=False):
            return  # the last look is still waiting on S3
        try:
            try:
                follower.push_local(runtime.store.path)  # e.g. `runbook rollback` in a shell here
                update = follower.poll()
            except Exception as exc:  # S3 slow, refusing, or gone: keep going locally
                self.post_message(SharedRunPolled(None, f"{type(exc).__name__}: {exc}"))
                return
            if update.state_changed or update.new_records:
                follower.mirror_state(runtime.refresh_state(), runtime.store.path)
            self.post_message(SharedRunPolled(update))
        finally:
            self._polling.release()

    def on_shared_run_polled(self, message: SharedRunPolled) -> None:
        update, was = message.update, self.shared_trouble
        self.shared_trouble = message.trouble
        if update is None:
            if was is None:
                self.broadcast()
            return
        holder = update.holder if update.holder is not None and update.holder.alive() else None
        self._seen(holder if holder is None or not holder.is_this_process() else None)
        self._note_others_gates(update.new_records)
        if not update.first:
            self._say_what_others_did(update.new_records)
        if update.state_changed or update.new_records or was is not None:
            close_stale_questions(self)  # type: ignore[arg-type]
            self.broadcast()

    def _note_others_gates(self, records: list[dict[str, Any]]) -> None:
        """Each step's newest gate on another machine: what the overview shows for a step
        this app has not checked itself."""
        from runbook.formatting import printable

        runtime = self.runtime
        mine = getattr(getattr(runtime and runtime.backend, "sink", None), "writer", None)
        for record in records:
            details = record.get("details") or {}
            step = record.get("step")
            if record.get("event") != "gate.finished" or not isinstance(step, str):
                continue
            if (details.get("origin") or {}).get("writer") in (None, mine):
                continue
            statuses = details.get("statuses") or {}
            bad = [f"{c} {s}" for c, s in statuses.items() if s in ("fail", "error")]
            who = (record.get("operator") or {}).get("local_user") or "?"
            at = str(record.get("time", ""))[11:16]
            said = "passed" if details.get("passed") else "blocked: " + ", ".join(bad)
            self.others_gates[step] = printable(f"{who}'s gate at {at}Z {said}")

    def _say_what_others_did(self, records: list[dict[str, Any]]) -> None:
        """What the others did that people must hear of (the notifications' headlines)."""
        from runbook.notify import headline

        runtime = self.runtime
        if runtime is None or runtime.backend is None:
            return
        mine = getattr(getattr(runtime.backend, "sink", None), "writer", None)
        for record in records:
            origin = (record.get("details") or {}).get("origin") or {}
            if origin.get("writer") in (None, mine):
                continue
            text = headline(runtime.model, record)
            if text is not None:
                cast("App[Any]", self).notify(text, title="Shared run", timeout=12)

    def read_local_lease(self) -> None:
        """In a worker: the lease file of a run kept in the state directory."""
        runtime = self.runtime
        if runtime is None or runtime.backend is None or runtime.backend.shared:
            return
        holder = runtime.backend.lease().current()
        alive = holder is not None and holder.alive() and not holder.is_this_process()
        self.post_message(LeaseSeen(holder if alive else None))

    def on_lease_seen(self, message: LeaseSeen) -> None:
        self._seen(message.holder)

    def _seen(self, holder: Holder | None) -> None:
        was, self.lease_holder = self.lease_holder, holder  # its heartbeat, kept fresh
        if (was and was.token) != (holder and holder.token):  # another holding, or none
            close_stale_questions(self)  # type: ignore[arg-type]
            self.broadcast()

    # --- the rollback key on a follower's machine ---------------------------------

    def fetch_shared_snapshot(self) -> bool:
        """The state says flipped, the snapshot is not here yet (the next look brings it):
        fetch it now, then ask. False when there is nothing to fetch from."""
        runtime = self.runtime
        if self.follower is None or runtime is None or runtime.state.dns.flipped_at is None:
            return False
        cast("App[Any]", self).notify(
            "Fetching the flip's snapshot from the shared run…", timeout=4
        )
        self._fetch_snapshot()
        return True

    @work(thread=True, group="snapshot", exit_on_error=False, description="Fetch the snapshot")
    def _fetch_snapshot(self) -> None:
        from runbook.backend.remote import pull_snapshot

        assert self.follower is not None
        try:
            pull_snapshot(self.follower.backend.store, self.follower.snapshot)
        except Exception as exc:
            self.post_message(SnapshotFetched(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(SnapshotFetched(None))

    def on_snapshot_fetched(self, message: SnapshotFetched) -> None:
        assert self.follower is not None
        if self.follower.snapshot.exists():
            cast("Any", self).action_rollback()  # the question, now with the snapshot
            return
        why = message.error or "the shared run has no snapshot yet"
        cast("App[Any]", self).notify(
            f"Cannot roll back from here yet: {why}", severity="error", timeout=20
        )

    # --- taking the lease over --------------------------------------------------

    def can_take_over(self) -> bool:
        return self.runtime is not None and self.lease_holder is not None

    def action_take_over(self) -> None:
        from screens.takeover import TakeOverScreen

        holder = self.lease_holder
        if holder is None:
            return

        def answered(reason: str | None) -> None:
            if reason:
                self.take_over(holder, reason)

        def premise() -> str | None:  # the same holding (its heartbeat renews, its token not)
            now = self.lease_holder
            return (
                None if now is not None and now.token == holder.token else "the lease changed hands"
            )

        cast("App[Any]", self).push_screen(TakeOverScreen(holder, premise=premise), answered)

    @work(thread=True, group="lease", exit_on_error=False, description="Take the lease over")
    def take_over(self, holder: Holder, reason: str) -> None:
        from runbook.acting import take_over

        assert self.runtime is not None
        try:
            previous = take_over(self.runtime, holder, reason)
        except Exception as exc:
            self.post_message(LeaseTakenOver(None, str(exc)))
            return
        self.post_message(LeaseTakenOver(previous))

    def on_lease_taken_over(self, message: LeaseTakenOver) -> None:
        if message.previous is None:
            cast("App[Any]", self).notify(
                f"Lease not taken over: {message.error}", severity="error", timeout=20
            )
            return
        self.lease_holder = None
        cast("App[Any]", self).notify(
            f"You took the lease over from {message.previous.describe()}. Their wait or watch "
            "pauses at its next heartbeat; an action already sending finishes.",
            title="Lease taken over",
            timeout=20,
        )
        self.broadcast()
