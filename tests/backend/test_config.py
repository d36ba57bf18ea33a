"""`[migration.backend]`, `[accounts.audit]`, `[notify]` and `approvals` in runbook.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runbook.aws.session import SessionFactory
from runbook.backend import LocalBackend, S3Backend, open_backend
from runbook.model import Runbook
from tests.support import s3backend as s3
from tests.support.runbooks import REGION, SOURCE, base_runbook

AUDIT = "444444444444"


def test_the_local_directory_stays_the_default(tmp_path: Path) -> None:
    model = Runbook.model_validate(base_runbook())
    assert model.migration.backend is None
    backend = open_backend(model, SessionFactory(model.accounts), tmp_path)
    assert isinstance(backend, LocalBackend) and not backend.shared


def test_a_backend_in_a_separate_audit_account(tmp_path: Path) -> None:
    book = s3.with_backend(base_runbook(), "s3://team-runs/moves/app", account="audit")
    book["accounts"]["audit"] = {"account_id": AUDIT, "region": REGION}
    model = Runbook.model_validate(book)
    backend = open_backend(model, SessionFactory(model.accounts), tmp_path)
    assert isinstance(backend, S3Backend)
    assert backend.description == "s3://team-runs/moves/app"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["migration"].update(backend={"url": "https://bucket/x"}), "url"),
        (
            lambda b: b["migration"].update(backend={"url": "s3://b-1/x", "account": "audit"}),
            "no [accounts.audit]",
        ),
        (
            lambda b: b["accounts"].update(audit={"account_id": SOURCE, "region": REGION}),
            "read-only",
        ),
        (
            lambda b: b["migration"].update(backend={"url": "s3://b-1/x", "retention_days": 0}),
            "retention_days",
        ),
        (lambda b: b.update(notify={"webhook_url": "file:///etc/passwd"}), "webhook_url"),
        (
            lambda b: b.update(notify={"sns_topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}),
            "sns_topic_arn",
        ),
        (lambda b: b["steps"][2].update(approvals=-1), "approvals"),
    ],
)
def test_bad_team_settings_are_refused(change: object, message: str) -> None:
    book = base_runbook()
    change(book)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Runbook.model_validate(book)
