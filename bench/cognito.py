"""6. Cognito force-migration: throughput against the rate limit, and memory as users grow.

Both pools live in the emulator started here: the source pool in the source
account (reached through the assumed role and the read-only guard, as the tool
reaches it), the target pool in the target account.

Throughput: `runbook.cognito.force_migrate` at `rate_per_second=40` (the
highest a runbook accepts) on users with a verified email, the common case:
each takes three target requests (AdminCreateUser, AdminSetUserPassword,
AdminResetUserPassword), so the ceiling is 40/3 users a second. The figure is
users a second and target requests a second against the configured rate.

Memory: one fresh process per user count migrates the whole pool, unpaced (as
fast as the emulator answers), and reports its peak resident set (VmHWM) and
its growth over the resident set just before the migration started. These
users have no verified contact, so each costs one AdminCreateUser: the
migration keeps the same per-user state either way, and the run is three
times shorter. Source users for these runs are seeded straight into the
emulator's in-process backend (the objects moto's AdminCreateUser makes),
because seeding 100,000 users over HTTP alone takes minutes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import Measure, Options, Report, child_env, fmt_value, log, run_child
from runbook.aws.session import SessionFactory, build_session
from runbook.demo.emulator import Emulator
from runbook.model import Account, Runbook
from tests.support.runbooks import REGION, SOURCE, SOURCE_ROLE, TARGET, base_runbook

RATE = 40.0  # the highest `rate_per_second` a runbook accepts (model: le=40)
UNPACED = 10_000.0
TEMP_PASSWORD = "Bench-Temp-Pa55!"
SKIPPED = "runbook.cognito.force_migrate not available"


def _force_migrate() -> Callable[..., Any] | None:
    try:
        from runbook.cognito import force_migrate as cognito
    except Exception:
        return None
    fn = getattr(cognito, "force_migrate", None)
    return fn if callable(fn) else None


def _username(i: int) -> str:
    return f"user{i:06d}"


def _attributes(i: int, verified: bool) -> list[dict[str, str]]:
    attrs = [
        {"Name": "email", "Value": f"{_username(i)}@example.com"},
        {"Name": "given_name", "Value": f"User {i}"},
    ]
    if verified:
        attrs.append({"Name": "email_verified", "Value": "true"})
    return attrs


def _seed_http(client: Any, pool: str, start: int, stop: int, verified: bool) -> None:
    def create(i: int) -> None:
        client.admin_create_user(
            UserPoolId=pool,
            Username=_username(i),
            UserAttributes=_attributes(i, verified),
            TemporaryPassword=TEMP_PASSWORD,
            MessageAction="SUPPRESS",
        )

    with ThreadPoolExecutor(max_workers=4) as pool_:
        list(pool_.map(create, range(start, stop)))


def _seed_backend(pool: str, start: int, stop: int, verified: bool) -> bool:
    """Straight into the emulator's backend; False if moto's internals are not as expected."""
    try:
        from moto.cognitoidp.models import cognitoidp_backends

        backend: Any = cognitoidp_backends[SOURCE][REGION]
        backend.admin_create_user(
            pool, _username(start), "SUPPRESS", TEMP_PASSWORD, _attributes(start, verified)
        )
    except Exception:
        return False
    for i in range(start + 1, stop):
        backend.admin_create_user(
            pool, _username(i), "SUPPRESS", TEMP_PASSWORD, _attributes(i, verified)
        )
    return True


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, **_kwargs: Any) -> None:
        with self._lock:
            self.count += 1


def run(options: Options) -> Report:
    report = Report("cognito")
    force_migrate = _force_migrate()
    if force_migrate is None:
        report.skipped = SKIPPED
        return report
    reps = options.repetitions(full=3, quick=1)
    users = options.cognito_users or (120 if options.quick else 300)
    sizes = tuple(sorted(set(options.cognito_sizes or (1_000, 10_000))))
    source_account = Account(
        account_id=SOURCE, region=REGION, role_arn=SOURCE_ROLE, external_id="runbook-test"
    )
    with tempfile.TemporaryDirectory(prefix="bench-cognito-") as tmp, Emulator(region=REGION):
        directory = Path(tmp)
        admin_source = build_session(source_account, read_only=False).client("cognito-idp")
        admin_target = build_session(
            Account(account_id=TARGET, region=REGION), read_only=False
        ).client("cognito-idp")

        def target_pool(name: str) -> str:
            return str(admin_target.create_user_pool(PoolName=name)["UserPool"]["Id"])

        # --- throughput, paced at RATE ---
        source_pool = str(admin_source.create_user_pool(PoolName="bench-rate")["UserPool"]["Id"])
        _seed_http(admin_source, source_pool, 0, users, verified=True)
        sessions = SessionFactory(Runbook.model_validate(base_runbook()).accounts)
        source = sessions.client("source", "cognito-idp")  # guarded, through the role
        target = sessions.client("target", "cognito-idp")
        counter = _Counter()
        target.meta.events.register("before-send.cognito-idp", counter)
        user_rates: list[float] = []
        request_rates: list[float] = []
        for rep in range(reps):
            pool = target_pool(f"bench-rate-{rep}")
            before = counter.count
            begun = time.perf_counter()
            result = force_migrate(
                source,
                target,
                source_pool=source_pool,
                target_pool=pool,
                state_dir=directory / f"rate-{rep}",
                rate_per_second=RATE,
                workers=4,
            )
            elapsed = time.perf_counter() - begun
            created = int(result.counts.created)
            if created != users:
                raise RuntimeError(f"created {created} of {users}: {result.summary()}")
            user_rates.append(created / elapsed)
            request_rates.append((counter.count - before) / elapsed)
            admin_target.delete_user_pool(UserPoolId=pool)
            log(
                f"cognito rate {rep + 1}/{reps}: {users} users in {elapsed:.1f} s, "
                f"{user_rates[-1]:.1f} users/s, {request_rates[-1]:.1f} target requests/s"
            )
        users_m = Measure.of(f"users/s at rate_per_second={RATE:g}", "/s", user_rates)
        requests_m = Measure.of("target requests/s", "/s", request_rates)
        report.measures += [users_m, requests_m]
        per_user = requests_m.median / users_m.median if users_m.median else float("nan")
        report.ratios.append(
            f"target requests {fmt_value(requests_m.median, '/s')} vs configured rate "
            f"{fmt_value(RATE, '/s')}: ratio {requests_m.median / RATE:.2f}"
            "  [1 = runs at the limit]"
        )
        report.ratios.append(
            f"users {fmt_value(users_m.median, '/s')} vs rate {fmt_value(RATE, '/s')}: ratio "
            f"{users_m.median / RATE:.2f}  [{per_user:.2f} target requests per user]"
        )

        # --- memory, one process per size, unpaced ---
        memory_pool = str(admin_source.create_user_pool(PoolName="bench-mem")["UserPool"]["Id"])
        seeded = 0
        via = "backend"
        growth: dict[int, float] = {}
        peaks: dict[int, float] = {}
        for size in sizes:
            begun = time.perf_counter()
            if not _seed_backend(memory_pool, seeded, size, verified=False):
                via = "HTTP"
                _seed_http(admin_source, memory_pool, seeded, size, verified=False)
            seeded = size
            seed_s = time.perf_counter() - begun
            pool = target_pool(f"bench-mem-{size}")
            done = run_child(
                [
                    sys.executable,
                    "-m",
                    "bench._cognito_child",
                    str(directory / f"mem-{size}"),
                    memory_pool,
                    pool,
                    str(UNPACED),
                ],
                env=child_env(),
                timeout=3600,
            )
            data = json.loads(done.stdout.strip().splitlines()[-1])
            if data.get("created") != size:
                raise RuntimeError(f"{size} users: {data.get('summary')}")
            admin_target.delete_user_pool(UserPoolId=pool)
            peaks[size] = data["peak_kib"] / 1024
            growth[size] = (data["peak_kib"] - data["baseline_kib"]) / 1024
            log(
                f"cognito memory {size:,} users: seeded in {seed_s:.1f} s ({via}), migrated in "
                f"{data['elapsed_s']:.1f} s ({size / data['elapsed_s']:.0f} users/s), peak "
                f"{peaks[size]:.1f} MiB, growth {growth[size]:.1f} MiB"
            )
            report.notes.append(
                f"{size:,} users: {size / data['elapsed_s']:.0f} users/s unpaced "
                f"(emulator-bound), {data['elapsed_s']:.0f} s"
            )
    for size in sizes:
        report.measures.append(Measure.of(f"peak RSS, {size:,} users", "MiB", [peaks[size]]))
    for size in sizes:
        report.measures.append(
            Measure.of(f"growth during migration, {size:,} users", "MiB", [growth[size]])
        )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        report.ratios.append(
            f"peak RSS at {large:,} users {peaks[large]:.1f} MiB vs at {small:,} "
            f"{peaks[small]:.1f} MiB: ratio {peaks[large] / peaks[small]:.2f} for "
            f"{large // small}x the users  [1 = flat]"
        )
        report.ratios.append(
            f"growth at {large:,} users {growth[large]:.1f} MiB vs at {small:,} "
            f"{growth[small]:.1f} MiB: ratio {growth[large] / growth[small]:.2f}  "
            "[what the migration itself holds, over its resident set at the start]"
        )
    report.notes.append(
        f"memory: one process per size, a single run each; source users seeded via {via}; "
        "pass --cognito-sizes to choose the counts"
    )
    return report
