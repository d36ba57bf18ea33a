"""Mixed into the app: the two-person rule on screen.

A step that needs approvals says on its screen how many it has, counted in a
worker on the log everyone reads (the S3 chain for a team run: never on the event
loop), again after each gate, each look at the shared run and each approval.
`p` on a step approves it as this operator's verified AWS identity, after a
question; the rules (`runbook.approvals`) refuse, audited, the driver's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.message import Message

if TYPE_CHECKING:
    from textual.app import App

    from runbook.approvals import Decision
    from runbook.engine import Engine
    from runbook.runtime import Runtime
    from screens.messages import GateFinished, SharedRunPolled


class ApprovalsCounted(Message):
    def __init__(self, step_id: str, missing: str | None) -> None:
        super().__init__()
        self.step_id = step_id
        self.missing = missing


class ApprovalDecided(Message):
    def __init__(self, step_id: str, decision: Decision) -> None:
        super().__init__()
        self.step_id = step_id
        self.decision = decision


class Approving:
    runtime: Runtime | None
    engine: Engine | None
    approval_missing: dict[str, str]  # step -> why its action still waits for approvals

    if TYPE_CHECKING:  # from App

        def post_message(self, message: Any) -> bool: ...
        def broadcast(self, step_id: str | None = None) -> None: ...

    def needs_approval(self, step_id: str) -> bool:
        from runbook.approvals import required

        runtime = self.runtime
        if runtime is None:
            return False
        waived = runtime.state.step(step_id).waiver is not None
        team = runtime.backend is not None and runtime.backend.shared
        return required(runtime.model, step_id, waived=waived, team=team) > 0

    @work(thread=True, group="approvals", exit_on_error=False, description="Count approvals")
    def count_approvals(self, step_id: str) -> None:
        from runbook.approvals import outstanding

        if self.runtime is None or self.engine is None or not self.needs_approval(step_id):
            return
        try:
            why = outstanding(self.runtime, step_id, max_age_s=self.engine.gate_max_age_s)
        except Exception as exc:  # the backend refused: say so where the count would be
            why = f"approvals could not be counted: {exc}"
        self.post_message(ApprovalsCounted(step_id, why))

    def on_approvals_counted(self, message: ApprovalsCounted) -> None:
        if message.missing is None:
            self.approval_missing.pop(message.step_id, None)
        else:
            self.approval_missing[message.step_id] = message.missing
        self.broadcast(message.step_id)

    def on_gate_finished(self, message: GateFinished) -> None:
        self.count_approvals(message.step_id)

    def on_shared_run_polled(self, message: SharedRunPolled) -> None:
        if message.update is not None and message.update.new_records:
            for step_id in list(self.approval_missing):
                self.count_approvals(step_id)

    def ask_approval(self, step_id: str) -> None:
        from screens.confirm import ConfirmScreen

        runtime = self.runtime
        assert runtime is not None
        me = runtime.audit.operator.get("aws_arn") or "(identity not verified yet)"
        question = (
            f"Approve {step_id} as {me}?\n\nYou approve its gate as it stands now (see the "
            "checks). The driver's own approval does not count; a gate that changes voids it."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.approve(step_id)

        dialog = ConfirmScreen(question, yes_label="Approve", purpose="approval")
        cast("App[Any]", self).push_screen(dialog, answered)

    @work(thread=True, group="approvals", exit_on_error=False, description="Approve a step")
    def approve(self, step_id: str) -> None:
        from runbook.approvals import Decision, approve

        runtime, engine = self.runtime, self.engine
        assert runtime is not None and engine is not None
        approver = runtime.audit.operator.get("aws_arn")
        if not approver:
            decision = Decision(False, "your AWS identity is not verified yet: nothing approved")
        else:
            decision = approve(
                runtime, step_id, str(approver), None, max_age_s=engine.gate_max_age_s
            )
        self.post_message(ApprovalDecided(step_id, decision))

    def on_approval_decided(self, message: ApprovalDecided) -> None:
        ok = message.decision.ok
        cast("App[Any]", self).notify(
            message.decision.message, severity="information" if ok else "error"
        )
        self.count_approvals(message.step_id)
