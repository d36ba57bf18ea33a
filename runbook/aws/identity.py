"""Is each configured account the one we are really talking to?

Used by the `identity.accounts` check and by the engine, which refuses any
action until this has passed in the current process (safety rule 6).
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook.aws.session import CredentialsError, SessionFactory
from runbook.model import Runbook


@dataclass(frozen=True)
class IdentityFinding:
    account: str
    expected: str
    actual: str | None
    arn: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.actual == self.expected


def configured_accounts(runbook: Runbook) -> list[str]:
    names = ["source", "target"]
    if runbook.accounts.dns is not None:
        names.append("dns")
    return names


def compare(sessions: SessionFactory, runbook: Runbook) -> list[IdentityFinding]:
    findings = []
    for name in configured_accounts(runbook):
        expected = runbook.account(name).account_id
        try:
            ident = sessions.identity(name)
        except CredentialsError as exc:  # the finding names the account already
            findings.append(IdentityFinding(name, expected, None, None, exc.cause))
            continue
        except Exception as exc:
            findings.append(IdentityFinding(name, expected, None, None, f"{exc}"))
            continue
        findings.append(IdentityFinding(name, expected, str(ident["Account"]), str(ident["Arn"])))
    return findings
