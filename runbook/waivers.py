"""What a waiver must say before it is accepted: which checks it covers, and why each.

One set of rules for the app and the command line (the engine applies them):

- a waiver covers the gate's failing blocking checks (fail, error, skipped), each
  named in the state and the audit record with the reason that covers it;
- in rehearsal one reason may cover them all;
- in production each one needs its own typed reason (one reason is enough only
  when a single check is failing: it is that check's reason);
- waiving the gate of the flip (a `dns.flip` step) in production also needs the
  environment's name typed, as a deliberate second act.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from runbook.model import Runbook
from runbook.runner import CheckOutcome

MIN_WAIVER_CHARS = 3
PRODUCTION = "production"
TOO_SHORT = f"a waiver needs a typed reason of at least {MIN_WAIVER_CHARS} characters"


class WaiverRefused(ValueError):
    """The waiver does not say enough; nothing was recorded."""


@dataclass(frozen=True)
class WaiverRequest:
    """What the operator typed: one reason for every check, and/or one per check."""

    reason: str = ""
    reasons: Mapping[str, str] = field(default_factory=dict)
    typed_environment: str | None = None


@dataclass(frozen=True)
class WaivedCheck:
    check: str
    status: str
    summary: str
    reason: str

    def as_record(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status,
            "summary": self.summary,
            "reason": self.reason,
        }


def failing_blocking(outcomes: Iterable[CheckOutcome]) -> list[CheckOutcome]:
    """The checks a waiver has to cover: blocking, and neither passed nor warned."""
    return [o for o in outcomes if o.blocking and o.result.status.value not in ("pass", "warn")]


def is_flip(model: Runbook, step_id: str) -> bool:
    return model.step(step_id).action.kind == "dns.flip"


def needs_per_check_reasons(environment: str, failing: int) -> bool:
    return environment == PRODUCTION and failing > 1


def needs_environment_typed(model: Runbook, step_id: str) -> bool:
    return model.migration.environment == PRODUCTION and is_flip(model, step_id)


def _too_short(text: str) -> bool:
    return len(text.strip()) < MIN_WAIVER_CHARS


def settle(
    model: Runbook, step_id: str, outcomes: Iterable[CheckOutcome], request: WaiverRequest
) -> list[WaivedCheck]:
    """Each failing blocking check with the reason that covers it, or WaiverRefused."""
    environment = model.migration.environment
    failing = failing_blocking(outcomes)
    names = [o.check for o in failing]
    unknown = sorted(set(request.reasons) - set(names))
    if unknown:
        listed = ", ".join(names) or "none"
        raise WaiverRefused(
            f"not a failing blocking check of {step_id}: {', '.join(unknown)} (failing: {listed})"
        )
    short = [c for c, r in request.reasons.items() if _too_short(r)]
    if short:
        raise WaiverRefused(
            f"the reason for {', '.join(short)} is empty or too short: "
            f"type at least {MIN_WAIVER_CHARS} characters"
        )
    general = request.reason.strip()
    if general and _too_short(general):
        raise WaiverRefused(TOO_SHORT)
    if needs_per_check_reasons(environment, len(failing)):
        missing = [n for n in names if n not in request.reasons]
        if missing:
            raise WaiverRefused(
                f"in {environment} each failing blocking check needs its own reason; "
                f"missing for: {', '.join(missing)}"
            )
    if not failing and not general:
        raise WaiverRefused(TOO_SHORT)
    waived = []
    for outcome in failing:
        reason = request.reasons.get(outcome.check, "").strip() or general
        if not reason:
            raise WaiverRefused(f"{TOO_SHORT} (none given for {outcome.check})")
        waived.append(
            WaivedCheck(outcome.check, outcome.result.status.value, outcome.result.summary, reason)
        )
    if needs_environment_typed(model, step_id) and request.typed_environment != environment:
        typed = request.typed_environment
        got = "nothing" if not typed else repr(typed)
        raise WaiverRefused(
            f"waiving the flip's gate in {environment} needs the environment's name typed "
            f"exactly ({environment!r}); got {got}"
        )
    return waived


def summary(request: WaiverRequest, waived: list[WaivedCheck]) -> str:
    """The one line kept as `StepState.waiver` (read by older code and shown in lists)."""
    if request.reason.strip() and all(w.reason == request.reason.strip() for w in waived):
        return request.reason.strip()
    return "; ".join(f"{w.check}: {w.reason}" for w in waived) or request.reason.strip()
