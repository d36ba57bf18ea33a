"""Messages workers post back to the app: the only way a worker reports anything.

Named in the past tense: each says what happened, never what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from runbook.actions import ActionOutcome
    from runbook.aws.identity import IdentityFinding
    from runbook.backend.follow import FollowUpdate
    from runbook.dns.rollback import RollbackResult
    from runbook.engine import GateRun
    from runbook.lease import Holder
    from runbook.runner import CheckOutcome
    from runbook.watch import WatchView


class CheckFinished(Message):
    def __init__(self, step_id: str, outcome: CheckOutcome) -> None:
        super().__init__()
        self.step_id = step_id
        self.outcome = outcome


class GateStarted(Message):
    def __init__(self, step_id: str, checks: list[str]) -> None:
        super().__init__()
        self.step_id = step_id
        self.checks = checks


class GateFinished(Message):
    def __init__(self, step_id: str, gate: GateRun) -> None:
        super().__init__()
        self.step_id = step_id
        self.gate = gate


class GateFailed(Message):
    """The gate could not run at all (not a failed check: those are results)."""

    def __init__(self, step_id: str, error: str) -> None:
        super().__init__()
        self.step_id = step_id
        self.error = error


class ActionProgressed(Message):
    def __init__(self, step_id: str, fraction: float | None, text: str) -> None:
        super().__init__()
        self.step_id = step_id
        self.fraction = fraction
        self.text = text


class ActionFinished(Message):
    def __init__(self, step_id: str, outcome: ActionOutcome) -> None:
        super().__init__()
        self.step_id = step_id
        self.outcome = outcome


class ActionRefused(Message):
    def __init__(self, step_id: str, reason: str) -> None:
        super().__init__()
        self.step_id = step_id
        self.reason = reason


class RollbackProgressed(Message):
    def __init__(self, attempt: int, text: str) -> None:
        super().__init__()
        self.attempt = attempt
        self.text = text


class RollbackFinished(Message):
    def __init__(self, result: RollbackResult) -> None:
        super().__init__()
        self.result = result


class IdentityChecked(Message):
    def __init__(self, findings: list[IdentityFinding], error: str | None = None) -> None:
        super().__init__()
        self.findings = findings
        self.error = error


class RunReconciled(Message):
    def __init__(self, notes: list[str]) -> None:
        super().__init__()
        self.notes = notes


class DemoFixApplied(Message):
    def __init__(self, check_id: str, description: str) -> None:
        super().__init__()
        self.check_id = check_id
        self.description = description


class WaiverRecorded(Message):
    """A waiver is in the audit log and the state (fsynced), or could not be recorded."""

    def __init__(self, step_id: str, error: str | None = None) -> None:
        super().__init__()
        self.step_id = step_id
        self.error = error


class RunChangedOnDisk(Message):
    """Another process (or this one) changed the run's files; state and head are re-read."""


class EngineChanged(Message):
    """Sent by the app to its screens after any of the above changed what they show."""

    def __init__(self, step_id: str | None = None) -> None:
        super().__init__()
        self.step_id = step_id


class AuditLoaded(Message):
    def __init__(self, records: list[dict[str, object]], verdict: str, intact: bool) -> None:
        super().__init__()
        self.records = records
        self.verdict = verdict
        self.intact = intact


class AuditFailed(Message):
    """Writing the audit log failed: the tool stops (DESIGN 5.2), it never carries on."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class WatchObserved(Message):
    """`watch.json` was read: a watch's latest round (this process's or another shell's)."""

    def __init__(self, view: WatchView) -> None:
        super().__init__()
        self.view = view


class WatchBreached(Message):
    """A watch's criterion breached; `alert` is False for one found at start-up (shown, not new)."""

    def __init__(self, view: WatchView, *, alert: bool) -> None:
        super().__init__()
        self.view = view
        self.alert = alert


class SharedRunPolled(Message):
    """The shared run as S3 holds it now (a run backend), or why S3 did not answer."""

    def __init__(self, update: FollowUpdate | None, trouble: str | None = None) -> None:
        super().__init__()
        self.update = update
        self.trouble = trouble


class LeaseSeen(Message):
    """Who holds the run's lease now (None: nobody, or this process)."""

    def __init__(self, holder: Holder | None) -> None:
        super().__init__()
        self.holder = holder


class LeaseTakenOver(Message):
    """This operator took the lease over (`previous` held it), or could not (`error`)."""

    def __init__(self, previous: Holder | None, error: str | None = None) -> None:
        super().__init__()
        self.previous = previous
        self.error = error


class SnapshotFetched(Message):
    """The shared run's DNS snapshot was fetched for a rollback here (`error`: it was not)."""

    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error
