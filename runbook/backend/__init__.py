"""Run backends: where a run's audit records, state, lease and DNS snapshot live.

The local state directory is the default and works exactly as before. With
`[migration.backend] url = "s3://bucket/prefix"` the run is shared by a team in
S3 (conditional writes, Object Lock where the bucket has it), and the state
directory becomes this machine's mirror, which rollback relies on alone.
"""

from __future__ import annotations

from pathlib import Path

from runbook.aws.session import SessionFactory
from runbook.backend.base import LocalBackend, RunBackend
from runbook.backend.chain import Retention
from runbook.backend.s3 import S3Backend
from runbook.model import Runbook


def open_backend(model: Runbook, sessions: SessionFactory, state_dir: Path) -> RunBackend:
    """The runbook's backend; creating it sends nothing to AWS."""
    config = model.migration.backend
    if config is None:
        return LocalBackend(state_dir)
    from runbook.backend.store import S3_CONFIG  # botocore's config: not before first paint

    client = sessions.client(config.account, "s3", config=S3_CONFIG)
    retention = (
        Retention(config.retention_mode, config.retention_days)
        if config.retention_days is not None
        else None
    )
    return S3Backend(client, config.url, state_dir, retention)


__all__ = ["LocalBackend", "RunBackend", "S3Backend", "open_backend"]
