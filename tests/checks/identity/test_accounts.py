"""identity.accounts: both accounts answer as who the runbook says they are (moto)."""

from __future__ import annotations

from runbook.checkapi import CheckContext, Status
from runbook.registry import CheckRegistry


def test_identity_check_passes_across_two_accounts(check_context: CheckContext) -> None:
    cls = CheckRegistry.discover().get("identity.accounts")
    result = cls().run(check_context, cls.params_model())
    assert result.status == Status.PASS, result
    assert result.evidence["source"]["actual"] == "111111111111"
