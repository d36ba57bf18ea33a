"""The step engine: gates, waivers, order, actions recorded as intent then outcome.

No Textual here: the app and the headless commands drive the same engine. It
is safe to call from worker threads; state changes happen under one lock and
are persisted atomically before the call returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from runbook import approvals
from runbook.acting import acting_elsewhere, holding_lease
from runbook.action_types import AnyOf, Flag, GateNotPassed
from runbook.actions import (
    ActionContext,
    ActionInterrupted,
    ActionOutcome,
    Progress,
    describe_intent,
    perform,
    reconcile,
)
from runbook.audit.log import AuditWriteError
from runbook.audit.verify import records_backward
from runbook.aws.identity import IdentityFinding, compare
from runbook.formatting import one_line, utc_time
from runbook.model import ForceMigrateAction, Step, WaitAction
from runbook.rollback_reset import NOT_CALLED_FOR, first_not_done, held_by, skipped
from runbook.runner import CheckJob, CheckOutcome, gate_passes, run_checks
from runbook.runtime import Runtime
from runbook.state import RunState, StepStatus, utcnow
from runbook.waivers import MIN_WAIVER_CHARS as MIN_WAIVER_CHARS  # re-exported: its old home
from runbook.waivers import WaiverRequest, settle
from runbook.waivers import summary as waiver_summary
from runbook.watch import step_jobs

GATE_MAX_AGE_S = 15 * 60  # a gate older than this is stale: CDC lag from an hour ago says nothing


class OutcomeNotRecorded(RuntimeError):
    """The action ran (something may have been sent) but its outcome could not be written."""

    def __init__(self, outcome: ActionOutcome, cause: BaseException) -> None:
        super().__init__(f"{outcome.summary}; NOT RECORDED: {type(cause).__name__}: {cause}")
        self.outcome = outcome
        self.cause = cause


@dataclass(frozen=True)
class GateRun:
    step: str
    outcomes: list[CheckOutcome]
    passed: bool
    at: float  # time.monotonic()


class Engine:
    def __init__(self, runtime: Runtime, *, gate_max_age_s: float = GATE_MAX_AGE_S) -> None:
        self.rt = runtime
        self.gate_max_age_s = gate_max_age_s
        self._lock = runtime.lock  # one lock for all run state, shared with rollback
        self._gates: dict[str, GateRun] = {}
        self._checking: set[str] = set()
        # Live re-checks of a step whose last gate is still fresh: the step keeps that
        # gate's status meanwhile (its action key stays enabled), and an action asked for
        # during one waits for it, so it is decided on the newest results.
        self._refreshing: set[str] = set()
        self._refreshed = threading.Condition()
        self._identity_ok = False

    # --- status -------------------------------------------------------------

    @property
    def step_ids(self) -> list[str]:
        return [s.id for s in self.rt.model.steps]

    def _fresh(self, step_id: str) -> GateRun | None:
        gate = self._gates.get(step_id)
        if gate is None or time.monotonic() - gate.at > self.gate_max_age_s:
            return None
        return gate

    def gate(self, step_id: str) -> GateRun | None:
        """The step's gate if it is fresh; a step with no checks has an open gate."""
        if not self.rt.model.step(step_id).checks:
            return GateRun(step_id, [], True, time.monotonic())
        return self._fresh(step_id)

    def status(self, step_id: str) -> StepStatus:
        with self._lock:
            saved = self.rt.state.step(step_id)
            if saved.status == StepStatus.DONE:
                return StepStatus.DONE
            if saved.status == StepStatus.RUNNING:
                return StepStatus.RUNNING
            if skipped(self.rt.model, self.rt.state, step_id):
                return StepStatus.SKIPPED
            if step_id in self._checking:
                return StepStatus.CHECKING
            if saved.status == StepStatus.FAILED and self._fresh(step_id) is None:
                return StepStatus.FAILED  # until its checks run again
            gate = self.gate(step_id)
            if saved.waiver is not None and gate is not None:
                return StepStatus.WAIVED
            if gate is not None and not gate.passed:
                return StepStatus.BLOCKED
            if gate is not None and self.waiting_on(step_id) is None:
                return StepStatus.READY  # passed, and its turn has come
            return StepStatus.PENDING

    def refreshing(self, step_id: str) -> bool:
        """A live re-check of the step is running (its last gate stays in force meanwhile)."""
        with self._refreshed:
            return step_id in self._refreshing

    def statuses(self) -> dict[str, StepStatus]:
        return {step_id: self.status(step_id) for step_id in self.step_ids}

    def current_step(self) -> str | None:
        """The first step that is not done: where a resumed run picks up."""
        return first_not_done(self.rt.model, self.rt.state)

    def waiting_on(self, step_id: str) -> str | None:
        """The earlier step that must be done first, if any.

        An independent step may be done at any time, and never holds later ones.
        """
        return held_by(self.rt.model, self.rt.state, step_id)

    def changed_since(self, step_id: str | None, rolled_back_at: datetime | None) -> str | None:
        """Why a question asked earlier about this step no longer stands, or None.

        For a dialog opened when the run looked different: another process did the
        step, or rolled DNS back. (Who holds the lease is the app's to know: it follows
        the lease without an S3 call on the event loop.)
        """
        state = self.rt.state
        if step_id is not None and state.step(step_id).status == StepStatus.DONE:
            return f"{step_id} was done meanwhile (see the audit log)"
        if state.dns.rolled_back_at != rolled_back_at:
            flipped = state.dns.rolled_back_at is None  # a flip clears it
            return "DNS was flipped again meanwhile" if flipped else "DNS was rolled back meanwhile"
        return None

    def can_act(self, step_id: str) -> tuple[bool, str]:
        with self._lock:
            status = self.status(step_id)
            if status == StepStatus.DONE:
                return False, "already done"
            if status == StepStatus.SKIPPED:
                return False, NOT_CALLED_FOR
            if status in (StepStatus.RUNNING, StepStatus.CHECKING):
                return False, f"step is {status.value}"
            earlier = self.waiting_on(step_id)
            if earlier is not None:
                return False, f"step {earlier!r} must be done first"
            if status == StepStatus.READY:
                return True, "gate passed"
            if status == StepStatus.FAILED:
                if not self.rt.model.step(step_id).checks:
                    return True, "failed before; may be retried"
                return False, "failed; run its checks again before retrying"
            if status == StepStatus.WAIVED:
                return True, "gate waived: " + str(self.rt.state.step(step_id).waiver)
            if status == StepStatus.BLOCKED:
                gate = self.gate(step_id)
                bad = [
                    f"{o.check} {o.result.status.value}"
                    for o in (gate.outcomes if gate else [])
                    if o.blocking and not _ok(o)
                ]
                return False, "gate not passed: " + ", ".join(bad)
            return False, "gate not run yet"

    # --- gates ----------------------------------------------------------------

    def live_checks(self, step_id: str) -> list[str]:
        """The step's checks that re-run on a timer while the step is open."""
        step = self.rt.model.step(step_id)
        return [ref.id for ref in step.checks if self.rt.registry.get(ref.id).meta.live]

    def jobs(self, step_id: str, only: list[str] | None = None) -> list[CheckJob]:
        return step_jobs(self.rt, step_id, only)  # one home: the watch builds the same jobs

    def run_gate(
        self,
        step_id: str,
        *,
        only: list[str] | None = None,
        on_result: Callable[[CheckOutcome], None] | None = None,
    ) -> GateRun:
        """Run the step's checks (or some of them), audit the results, and keep the gate.

        A live re-check (`only`, with the last gate still fresh) is a refresh: it
        audits only the checks whose status or summary changed, so a drain watched
        for fifteen minutes is not ninety gate records.
        """
        jobs = self.jobs(step_id, only)
        previous = self._fresh(step_id) if only is not None else None
        refresh = previous is not None
        if refresh:
            with self._refreshed:
                self._refreshing.add(step_id)
        else:
            with self._lock:
                self._checking.add(step_id)
        checks = [j.check_cls.meta.id for j in jobs]
        prior = {o.check: o.result for o in previous.outcomes} if previous else {}
        started: list[bool] = []  # a refresh's gate.started is written with its first change

        def record(outcome: CheckOutcome) -> None:
            before = prior.get(outcome.check)
            same = (
                before is not None
                and before.status == outcome.result.status
                and before.summary == outcome.result.summary
            )
            if not same:
                if not started:
                    started.append(True)
                    self.rt.audit.record("gate.started", step=step_id, checks=checks, refresh=True)
                details = {k: v for k, v in outcome.to_json().items() if k != "step"}
                self.rt.audit.record("check.result", step=step_id, **details)
            if on_result is not None:
                on_result(outcome)

        if not refresh:
            started.append(True)
            self.rt.audit.record("gate.started", step=step_id, checks=checks)
        try:
            outcomes = run_checks(jobs, self.rt.check_context, on_result=record)
        finally:
            if refresh:
                with self._refreshed:
                    self._refreshing.discard(step_id)
                    self._refreshed.notify_all()
            else:
                with self._lock:
                    self._checking.discard(step_id)
        if only is not None and (earlier := self.gate(step_id)) is not None:
            rerun = {o.check for o in outcomes}
            outcomes = [o for o in earlier.outcomes if o.check not in rerun] + outcomes
        gate = GateRun(step_id, outcomes, gate_passes(outcomes), time.monotonic())
        with self._lock:
            self._gates[step_id] = gate
            for outcome in outcomes:
                if outcome.proves_identity and _ok(outcome):
                    self._identity_ok = True
        if started:
            self.rt.audit.record(
                "gate.finished",
                step=step_id,
                passed=gate.passed,
                statuses={o.check: o.result.status.value for o in outcomes},
            )
        return gate

    def _await_refresh(self, step_id: str) -> None:
        """An action asked for during a live re-check waits for it (bounded)."""
        limit = self.rt.model.settings.check_timeout_s + 5
        with self._refreshed:
            self._refreshed.wait_for(lambda: step_id not in self._refreshing, timeout=limit)

    def waive(self, step_id: str, reason: str | WaiverRequest) -> list[dict[str, str]]:
        """Accept a failed gate with typed reasons (see `runbook.waivers` for the rules).

        Audited with each waived check, its status and the reason that covers it;
        returns those, so whoever asked can say what was waived.
        """
        request = reason if isinstance(reason, WaiverRequest) else WaiverRequest(reason)
        with self._lock:
            gate = self.gate(step_id)
            if gate is None:
                raise GateNotPassed(
                    "run the gate before waiving it, so the waiver names what failed"
                )
            waived = settle(self.rt.model, step_id, gate.outcomes, request)
            line = waiver_summary(request, waived)

            def waived_in(state: RunState) -> None:
                saved = state.step(step_id)
                saved.waiver = line
                saved.waived_checks = {w.check: w.reason for w in waived}

            self.rt.update_state(waived_in)
        records = [w.as_record() for w in waived]
        extra = {"environment_typed": True} if request.typed_environment else {}
        self.rt.audit.record(
            "gate.waived", step=step_id, reason=line, waived_checks=records, **extra
        )
        return records

    # --- identity -------------------------------------------------------------

    def verify_identity(self) -> list[IdentityFinding]:
        findings = compare(self.rt.sessions, self.rt.model)
        ok = all(f.ok for f in findings)
        arns = {f.account: f.arn for f in findings}
        self.rt.audit.set_operator(aws_arn=arns.get("target") or next(iter(arns.values()), None))
        self.rt.audit.record(
            "identity.verified" if ok else "identity.mismatch",
            accounts=[f.__dict__ for f in findings],
        )
        with self._lock:
            self._identity_ok = ok
        return findings

    # --- actions --------------------------------------------------------------

    def do(
        self,
        step_id: str,
        *,
        confirmed: bool = False,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        interrupt: threading.Event | None = None,
    ) -> ActionOutcome:
        """Run the step's action: intent (fsynced) first, then the action, then the outcome.

        Holds the run's lease throughout: a second actor is refused, naming this one.
        `interrupt` (the app quitting) pauses a wait or a watch: `ActionInterrupted`; so
        does another operator taking the lease over (`LeaseLost`).
        """
        self.rt.model.step(step_id)  # an unknown step fails here, before anything else
        self.require_identity()
        with holding_lease(self.rt, step_id) as lost:
            stop = interrupt if interrupt is not None else threading.Event()
            return self._do_holding_lease(step_id, confirmed, progress, cancel, AnyOf(stop, lost))

    def require_identity(self) -> None:
        """The accounts checked (once): the audit then names the caller's AWS identity."""
        if self._identity_ok:
            return
        findings = self.verify_identity()
        if not all(f.ok for f in findings):
            bad = "; ".join(
                f"{f.account}: expected {f.expected}, got {f.actual or f.error}"
                for f in findings
                if not f.ok
            )
            raise GateNotPassed(f"wrong or unreachable account, nothing sent: {bad}")

    def _do_holding_lease(
        self,
        step_id: str,
        confirmed: bool,
        progress: Progress | None,
        cancel: threading.Event | None,
        interrupt: Flag | None = None,
    ) -> ActionOutcome:
        step = self.rt.model.step(step_id)
        self._await_refresh(step_id)
        # Another process may have done this step, or rolled back, since we last looked.
        self.rt.refresh_state()
        with self._lock:
            allowed, reason = self.can_act(step_id)
            if allowed:  # two people for the irreversible
                lacking = approvals.missing(self.rt, step_id, max_age_s=self.gate_max_age_s)
                allowed, reason = (False, lacking) if lacking is not None else (True, reason)
            if not allowed:
                self.rt.audit.record("action.refused", step=step_id, reason=reason)
                raise GateNotPassed(reason)
            ctx = ActionContext(runtime=self.rt, step=step, confirmed=confirmed)
            if progress is not None:
                ctx.progress = progress
            if cancel is not None:
                ctx.cancel = cancel
            if interrupt is not None:
                ctx.interrupt = interrupt
            intent = self.rt.audit.record("action.intent", step=step_id, **describe_intent(ctx))
            ctx.intent_seq = intent["seq"]

            def running(state: RunState) -> None:
                saved = state.step(step_id)
                saved.status = StepStatus.RUNNING
                saved.started_at = utcnow()
                state.in_flight = {"step": step_id, "intent_seq": intent["seq"]}

            self.rt.update_state(running)
        try:
            outcome = perform(ctx)
        except ActionInterrupted as exc:
            # Left open as by a crash (running, no outcome): the next start reconciles it.
            self.rt.audit.record(
                "action.interrupted", step=step_id, summary=str(exc), **exc.details
            )
            raise
        except Exception as exc:
            summary, more = one_line(f"{type(exc).__name__}: {exc}")
            outcome = ActionOutcome(False, summary, {"error": [summary, *more]})
        try:
            return self._finish(step_id, outcome, "action.outcome")
        except (AuditWriteError, OSError) as exc:  # a full disk after the change went out
            raise OutcomeNotRecorded(outcome, exc) from exc

    def _finish(self, step_id: str, outcome: ActionOutcome, event: str) -> ActionOutcome:
        self.rt.audit.record(
            event, step=step_id, ok=outcome.ok, summary=outcome.summary, **outcome.details
        )

        def finished(state: RunState) -> None:
            saved = state.step(step_id)
            saved.status = StepStatus.DONE if outcome.ok else StepStatus.FAILED
            saved.finished_at = utcnow()
            saved.note = outcome.summary
            if outcome.ok:
                saved.waiver = None
            if state.in_flight and state.in_flight.get("step") == step_id:
                state.in_flight = None

        with self._lock:
            # Done or failed, the gate is spent: a retry starts from fresh checks.
            self._gates.pop(step_id, None)
            self.rt.update_state(finished)
        return outcome

    def dangling_intents(self) -> list[str]:
        """Steps whose last intent has no outcome: the process died in between."""
        open_steps: dict[str, int] = {}
        decided: set[str] = set()  # read newest first: a step's latest record decides
        path = self.rt.audit.path
        for record in records_backward(path) if path.exists() else []:
            event, step = record.get("event"), record.get("step")
            if not isinstance(step, str) or step in decided:
                continue
            if event == "action.intent":
                open_steps[step] = record["seq"]
                decided.add(step)
            elif event in ("action.outcome", "action.reconciled"):
                decided.add(step)
        if self.rt.state.in_flight:
            open_steps.setdefault(self.rt.state.in_flight["step"], -1)
        return list(open_steps)

    def reconcile(self) -> list[str]:
        """Settle actions interrupted by a crash by looking at AWS; say what was found."""
        dangling = self.dangling_intents()
        if dangling and (holder := acting_elsewhere(self.rt)) is not None:
            # Not interrupted: running elsewhere now (a second shell's `do` must not reset it).
            return [f"{s}: being done by {holder.describe()}; left to it" for s in dangling]
        messages = []
        for step_id in dangling:
            try:
                step = self.rt.model.step(step_id)
            except KeyError:
                continue
            ctx = ActionContext(runtime=self.rt, step=step)
            try:
                outcome = reconcile(ctx)
            except Exception as exc:
                messages.append(f"{step_id}: interrupted; could not reconcile yet ({exc})")
                continue
            if outcome is not None:
                self._finish(step_id, outcome, "action.reconciled")
                messages.append(f"{step_id}: {outcome.summary}")
            else:
                summary = _offered_again(step, self.rt.state)
                self.rt.audit.record("action.reconciled", step=step_id, ok=False, summary=summary)

                def offered_again(state: RunState, step_id: str = step_id) -> None:
                    state.step(step_id).status = StepStatus.PENDING
                    state.in_flight = None

                with self._lock:
                    self.rt.update_state(offered_again)
                messages.append(f"{step_id}: {summary}")
        return messages


def _offered_again(step: Step, state: RunState) -> str:
    """What an interrupted action that had not finished left behind, in words."""
    deadline = state.step(step.id).wait_deadline
    if isinstance(step.action, WaitAction) and deadline is not None:
        # Not "before it took effect": the wait's time was running, and still is.
        until = utc_time(deadline.isoformat())
        return f"interrupted; offered again, still counting down to {until}Z"
    if isinstance(step.action, ForceMigrateAction):  # users made so far stay made
        return "interrupted; offered again: doing it resumes where it stopped"
    return "interrupted before it took effect; offered again"


def _ok(outcome: CheckOutcome) -> bool:
    return outcome.result.status.value in ("pass", "warn")
