"""The demo world's data: every ID the demo runbook names, its clock, and how CDC lag moves.

Accounts: the target is moto's default account (123456789012), reached with
the demo's own keys; the source (111111111111) is reached by assuming a role
in it, as the tool itself does: moto takes the account from the role ARN.
Every client comes from `runbook.aws.SessionFactory`, the project's only
session factory, under names other than `source` (seeding writes to it).

Nothing here talks to AWS until a client is asked for; the seeding, the lag
feeder and the fixes (`runbook.demo.seed`, `.lag`, `.fixes`) change the world
through `DemoWorld.client()`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from runbook.aws.session import SessionFactory
from runbook.demo.emulator import DEFAULT_REGION
from runbook.model import Account

TARGET_ACCOUNT = "123456789012"  # moto's default: the demo's own keys land here
SOURCE_ACCOUNT = "111111111111"
REGION = DEFAULT_REGION
EXTERNAL_ID = "runbook-demo"
SOURCE_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/runbook-read-only"
# Seeding writes to the source, so it goes through a role that is not the
# runbook's read-only one (moto does not enforce either role's policy).
SEED_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/demo-seed-admin"
COGNITO_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/cognito-migration-read"
S3_ROLE_ARN = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/s3-replication"

# Documentation address blocks (RFC 5737): never routed, nothing to reach.
SOURCE_IP = "198.51.100.10"
TARGET_IP = "203.0.113.10"

ZONE_NAME = "example.com"
RECORD_NAME = "app.example.com"
RECORD_TTL = 300
DB_PORT = 3306
TASK_ID = "acme-prod-full-load-cdc"
DMS_INSTANCE_ID = "acme-prod-dms"
READ_ONLY_STEP = "source-read-only"

AccountName = Literal["source", "target"]


@dataclass(frozen=True)
class LagProfile:
    """How DMS's CDC latency moves in the demo, in demo seconds since the world was seeded.

    Before the demo starts (the seeded history) the task is far behind and
    catching up; from the start, the latency halves every `halflife_s` towards
    `floor_s`, so `dms.cdc_lag` fails at first and passes once the high samples
    leave its window (`window_minutes`, the demo runbook's setting). Changes
    keep arriving until the source is read-only, then drop to zero.
    """

    history_minutes: int = 15
    history_peak_s: float = 480.0
    start_s: float = 150.0
    floor_s: float = 4.0
    halflife_s: float = 30.0
    history_step_s: float = 20.0
    incoming_per_sample: float = 850.0
    window_minutes: int = 3

    def latency(self, elapsed_s: float) -> tuple[float, float]:
        """(CDCLatencySource, CDCLatencyTarget) at a moment of the demo."""
        if elapsed_s < 0:
            # Log-linear from the peak down to the value at the start.
            span = self.history_minutes * 60.0
            fraction = max(0.0, min(1.0, (elapsed_s + span) / span))
            base = self.history_peak_s * (self.start_s / self.history_peak_s) ** fraction
        else:
            base = self.floor_s + (self.start_s - self.floor_s) * 0.5 ** (
                elapsed_s / self.halflife_s
            )
        wobble = 1.0 + 0.04 * math.sin(elapsed_s / 11.0)
        source = round(base * wobble, 1)
        # The target applies what the source side read: a little further behind.
        return source, round(source * 1.1 + 0.5, 1)

    def incoming(self, elapsed_s: float, read_only: bool) -> float:
        if read_only:
            return 0.0
        return round(self.incoming_per_sample * (1.0 + 0.15 * math.sin(elapsed_s / 23.0)))


@dataclass
class DemoWorld:
    """Every ID the demo runbook names, the demo's clock, and clients to change it."""

    endpoint_url: str
    region: str = REGION
    source_account: str = SOURCE_ACCOUNT
    target_account: str = TARGET_ACCOUNT
    source_role_arn: str = SOURCE_ROLE_ARN
    external_id: str = EXTERNAL_ID
    # Networks: both 10.0.0.0/16; PrivateLink from the target to the source.
    source_vpc_id: str = ""
    target_vpc_id: str = ""
    endpoint_service_name: str = ""
    endpoint_id: str = ""
    # The source database: a writer and the read replica DMS reads.
    db_writer_id: str = "acme-prod-db"
    db_replica_id: str = "acme-prod-db-replica"
    db_replica_host: str = ""
    db_port: int = DB_PORT
    db_security_group_id: str = ""
    target_db_id: str = "acme-prod-db-v2"
    # DMS, in the target.
    dms_instance_id: str = DMS_INSTANCE_ID
    dms_instance_arn: str = ""
    dms_public_ip: str = ""
    task_id: str = TASK_ID
    task_arn: str = ""
    # DNS, in the target.
    zone_id: str = ""
    zone_name: str = ZONE_NAME
    record_name: str = RECORD_NAME
    record_ttl: int = RECORD_TTL
    source_ip: str = SOURCE_IP
    target_ip: str = TARGET_IP
    # Cognito.
    source_pool_id: str = ""
    source_client_id: str = ""
    target_pool_id: str = ""
    target_client_id: str = ""
    trigger_function: str = "acme-user-migration"
    trigger_function_arn: str = ""
    cognito_role_arn: str = COGNITO_ROLE_ARN
    users_total: int = 0
    users_migrated: int = 0
    # S3: (source bucket, target bucket).
    bucket_pairs: list[tuple[str, str]] = field(
        default_factory=lambda: [
            ("acme-prod-uploads", "acme-prod-uploads-v2"),
            ("acme-prod-exports", "acme-prod-exports-v2"),
        ]
    )
    # CloudFormation.
    source_stacks: list[str] = field(default_factory=lambda: ["acme-app", "acme-data"])
    target_stacks: list[str] = field(
        default_factory=lambda: ["acme-app", "acme-data", "acme-network"]
    )
    # What the target still carries from the source.
    stale_function: str = "acme-orders-worker"
    alarm_name: str = "acme-api-5xx"
    source_topic_arn: str = ""
    target_topic_arn: str = ""
    # The demo's time and the state the lag feeder follows.
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    time_scale: float = 1.0
    lag: LagProfile = field(default_factory=LagProfile)
    site_url: str | None = None
    state_file: Path | None = None
    archived_state: Path | None = None
    source_read_only: threading.Event = field(default_factory=threading.Event, repr=False)
    _started_monotonic: float = field(default_factory=time.monotonic, repr=False)
    _sessions: SessionFactory | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- time ---------------------------------------------------------------------

    def start_clock(self) -> None:
        self.started_at = datetime.now(UTC)
        self._started_monotonic = time.monotonic()

    def elapsed_s(self) -> float:
        """Demo seconds since the world was seeded (`time_scale` times the real ones)."""
        return (time.monotonic() - self._started_monotonic) * self.time_scale

    def clock(self) -> datetime:
        """The demo's now: the wall clock when `time_scale` is 1, faster in tests."""
        return self.started_at + timedelta(seconds=self.elapsed_s())

    # --- accounts and clients -----------------------------------------------------

    def account(self, name: AccountName) -> Account:
        if name == "source":
            return Account(
                account_id=self.source_account,
                region=self.region,
                role_arn=SEED_ROLE_ARN,
                external_id=self.external_id,
                session_name="runbook-demo-seed",
            )
        return Account(account_id=self.target_account, region=self.region)

    def client(self, account: AccountName, service: str) -> Any:
        """An unguarded client for changing the emulated world (seeding, fixes, the feeder)."""
        with self._lock:
            if self._sessions is None:
                # Named apart from "source" on purpose: the demo seeds and fixes the
                # emulated source, so these sessions must not carry the read-only guard.
                self._sessions = SessionFactory(
                    {f"emulated-{name}": self.account(name) for name in ("source", "target")}
                )
        # Explicit, not only from AWS_ENDPOINT_URL: these clients outlive any env.
        return self._sessions.client(f"emulated-{account}", service, endpoint_url=self.endpoint_url)

    # --- read-only source -----------------------------------------------------------

    def refresh_read_only(self) -> bool:
        """Is the source read-only: set by a fix, or the read-only step done in the run state?"""
        if self.source_read_only.is_set():
            return True
        if self.state_file is not None:
            try:
                state = json.loads(self.state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return False
            step = (state.get("steps") or {}).get(READ_ONLY_STEP) or {}
            if step.get("status") == "done":
                self.source_read_only.set()
                return True
        return False

    @property
    def dms_dimensions(self) -> list[dict[str, str]]:
        return [
            {"Name": "ReplicationInstanceIdentifier", "Value": self.dms_instance_id},
            {"Name": "ReplicationTaskIdentifier", "Value": self.task_id},
        ]
