"""source.writes_stopped: the source stopped changing, and CDC applied what it had sent.

The playbook's cutover: revoke writes on the source, wait for CDC to drain,
then flip DNS. This passes only when all of these hold:

- the DMS task is `running` (DescribeReplicationTasks): a stopped or failed
  task reports no incoming changes because it reads none;
- in the last N complete one-minute samples (DMS publishes its metrics per
  minute), `CDCThroughputRowsSource`, the rows arriving from the source, is 0;
  `CDCIncomingChanges`, the changes waiting to be applied, is 0; and CDC latency
  is under the drain threshold. The newest sample's data is at most
  `max_sample_age_seconds` old. With `read_only_step`, only samples that start
  after that step was done count;
- DMS's per-table counters (DescribeTableStatistics: Inserts, Updates, Deletes,
  DDLs) have not moved for `quiet_seconds`. They say what DMS captured up to
  now, where CloudWatch lags by minutes. The check is re-run every few seconds
  while its step is open, so each reading is kept in the state directory and
  the next run, in whichever process, compares with it.

It reports since when writes have been stopped: the first of the trailing
samples with no source rows, when the unchanged counters reach back to the
newest sample; otherwise since the counters stopped moving.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from checks.dms.common import (
    INCOMING_METRIC,
    LATENCY_METRICS,
    SOURCE_ROWS_METRIC,
    DmsAccount,
    Missing,
    Series,
    TaskRef,
    as_points,
    complete,
    describe_instance,
    describe_task,
    discover_dimensions,
    fetch_series,
    merge_max,
    not_running,
    stale,
)
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult
from runbook.durable import atomic_write
from runbook.formatting import duration, parse_time
from runbook.state import StepStatus

COUNTERS = ("Inserts", "Updates", "Deletes", "Ddls")
COUNTER_FILE = "dms-table-counters-{key}.json"

Counters = dict[str, list[int]]


class WritesStoppedParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The DMS replication task replicating the source.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")
    drain_threshold_seconds: float = Field(
        default=30.0, gt=0, description="CDC latency under which the task counts as drained."
    )
    consecutive_samples: int = Field(
        default=3,
        ge=1,
        le=60,
        description="How many latest complete samples in a row must show the source quiet.",
    )
    window_minutes: int = Field(default=15, ge=1, le=24 * 60, description="How far back to look.")
    period_seconds: int = Field(
        default=60,
        ge=60,
        multiple_of=60,
        description="CloudWatch period of each sample (DMS publishes per minute).",
    )
    max_sample_age_seconds: int = Field(
        default=120,
        ge=30,
        description=(
            "The newest sample's data (up to the end of its period) must be at most this "
            "old: older means DMS went quiet."
        ),
    )
    quiet_seconds: float = Field(
        default=30.0,
        ge=5,
        le=3600,
        description="How long DMS's table counters must stay unchanged.",
    )
    read_only_step: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description=(
            "The step in which the operator confirmed the source read-only; only samples "
            "starting after it was done count (and the check fails until it is done)."
        ),
    )

    @model_validator(mode="after")
    def _window_holds_samples(self) -> WritesStoppedParams:
        if self.consecutive_samples * self.period_seconds > self.window_minutes * 60:
            raise ValueError("consecutive_samples * period_seconds does not fit in the window")
        return self


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- DMS's table counters, compared across runs ----------------------------------------------


def read_counters(ctx: CheckContext, account: DmsAccount, arn: str) -> Counters:
    """Per `schema.table`, what DMS captured from the source so far (COUNTERS, in order)."""
    dms = ctx.client(account, "dms")
    out: Counters = {}
    for page in dms.get_paginator("describe_table_statistics").paginate(ReplicationTaskArn=arn):
        for table in page.get("TableStatistics", []):
            name = f"{table.get('SchemaName')}.{table.get('TableName')}"
            out[name] = [int(table.get(c) or 0) for c in COUNTERS]
    return out


def _moves(before: Counters, now: Counters) -> list[str]:
    moved: list[str] = []
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name), now.get(name)
        if old is None or new is None:
            moved.append(f"{name} {'appeared' if old is None else 'disappeared'}")
            continue
        moved += [
            f"{name} {c} {a} -> {b}" for c, a, b in zip(COUNTERS, old, new, strict=True) if a != b
        ]
    return moved


def unchanged_since(
    ctx: CheckContext, task: dict[str, Any], counters: Counters, now: datetime
) -> tuple[datetime | None, list[str]]:
    """Since when the counters read `now` have been the same, and what moved since last time.

    None when this reading is the first, or differs from the last one; this
    reading is then kept, atomically, for the next run (any process) to compare.
    A restarted task counts from zero again, so its start date is part of the key.
    """
    key = json.dumps(
        [task["ReplicationTaskArn"], str(task.get("ReplicationTaskStartDate"))]
    ).encode()
    path = ctx.state_dir / COUNTER_FILE.format(key=hashlib.sha256(key).hexdigest()[:16])
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        before: Counters | None = saved["counters"]
        since = parse_time(str(saved["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        before, since = None, None
    if before == counters and since is not None and since <= now:
        return since, []
    record = {"counters": counters, "since": now.isoformat()}
    atomic_write(path, json.dumps(record, sort_keys=True).encode())
    return None, _moves(before, counters) if before is not None else []


# --- the check ---------------------------------------------------------------------------------


def _first_of_zero_run(series: Series) -> datetime | None:
    """The first sample of the trailing run of zeros: since when nothing arrived."""
    first: datetime | None = None
    for at in sorted(series, reverse=True):
        if series[at] != 0:
            break
        first = at
    return first


class WritesStoppedCheck(Check[WritesStoppedParams]):
    meta = CheckMeta(
        id="source.writes_stopped",
        title="Source writes stopped, CDC drained (task running, no source rows, counters still)",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=(
            "dms:DescribeReplicationTasks",
            "dms:DescribeReplicationInstances",
            "dms:DescribeTableStatistics",
            "cloudwatch:ListMetrics",
            "cloudwatch:GetMetricData",
        ),
        remediation=(
            "Confirm the source database is really read-only (the application user's "
            "INSERT/UPDATE/DELETE revoked, or the parameter group's read_only in force) and "
            "that no job writes through another user; then wait for CDC to drain. A task that "
            "is not running replicates nothing: resume it (resume-processing) before judging "
            "the drain. Do not flip DNS while changes are still arriving."
        ),
        live=True,
    )
    params_model = WritesStoppedParams

    def run(self, ctx: CheckContext, params: WritesStoppedParams) -> CheckResult:
        end = ctx.now()
        start = end - timedelta(minutes=params.window_minutes)
        since: datetime | None = None
        details: list[str] = []
        if params.read_only_step is not None:
            saved = ctx.state.steps.get(params.read_only_step) if ctx.state else None
            if saved is None or saved.status != StepStatus.DONE or saved.finished_at is None:
                return CheckResult.failed(
                    f"the source is not confirmed read-only yet: step {params.read_only_step} "
                    "is not done"
                )
            since = _aware(saved.finished_at)
            start = max(start, since - timedelta(seconds=params.period_seconds))
            details.append(
                f"source confirmed read-only ({params.read_only_step}) at {since.isoformat()}, "
                f"{duration((end - since).total_seconds())} ago"
            )
        try:
            task = describe_task(ctx, params.account, params.task_id)
            instance = describe_instance(ctx, params.account, str(task["ReplicationInstanceArn"]))
        except Missing as exc:
            return CheckResult.failed(str(exc))
        dead = not_running(task)
        if dead is not None:
            return CheckResult.failed(
                dead[0], details + dead[1], task_status=str(task.get("Status"))
            )

        metrics = (INCOMING_METRIC, SOURCE_ROWS_METRIC, *LATENCY_METRICS)
        dims = {m: discover_dimensions(ctx, params.account, m, task, instance) for m in metrics}
        series = fetch_series(ctx, params.account, dims, start, end, params.period_seconds)
        if since is not None:
            # A sample's timestamp is the start of its period: one that starts before the
            # confirmation may hold writes from before it.
            series = {m: {t: v for t, v in s.items() if t >= since} for m, s in series.items()}
        incoming, rows = series[INCOMING_METRIC], series[SOURCE_ROWS_METRIC]
        latency = merge_max(*(series[m] for m in LATENCY_METRICS))
        evidence: dict[str, Any] = {
            "task_status": str(task.get("Status")),
            "series": as_points(latency),
            "incoming_series": as_points(incoming),
            "source_rows_series": as_points(rows),
            "drain_threshold_seconds": params.drain_threshold_seconds,
            "consecutive_samples": params.consecutive_samples,
            "since": since.isoformat() if since else None,
        }
        after = (
            f" since {since.isoformat()}" if since else f" in the last {params.window_minutes} min"
        )
        problems = self._judge_samples(params, end, incoming, rows, latency, after, details)

        quiet_since: datetime | None = None
        if ctx.emulated:
            details.append(
                "table counters not read: the emulator has no DescribeTableStatistics; no "
                f"source changes judged by {SOURCE_ROWS_METRIC} alone"
            )
        else:
            counters = read_counters(ctx, params.account, str(task["ReplicationTaskArn"]))
            evidence["tables"] = len(counters)
            if not counters:
                problems.insert(
                    0,
                    "DescribeTableStatistics lists no table for the task: cannot tell that "
                    "the source stopped changing",
                )
            else:
                quiet_since, moved = unchanged_since(ctx, task, counters, end)
                evidence["tables_unchanged_since"] = (
                    quiet_since.isoformat() if quiet_since else None
                )
                if moved:
                    problems.insert(0, f"table statistics moved since the last reading: {moved[0]}")
                    details += moved
                elif quiet_since is None:
                    problems.insert(
                        0,
                        f"first reading of DMS table statistics ({len(counters)} tables): they "
                        f"must stay unchanged for {duration(params.quiet_seconds)}; re-run",
                    )
                elif (quiet := (end - quiet_since).total_seconds()) < params.quiet_seconds:
                    problems.insert(
                        0,
                        f"table statistics unchanged for only {duration(quiet)} "
                        f"(of {duration(params.quiet_seconds)})",
                    )

        if problems:
            return CheckResult.failed(
                f"writes not proven stopped: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
                details + problems,
                **evidence,
            )
        return self._passed(params, end, rows, latency, quiet_since, details, evidence)

    @staticmethod
    def _judge_samples(
        params: WritesStoppedParams,
        end: datetime,
        incoming: Series,
        rows: Series,
        latency: Series,
        after: str,
        details: list[str],
    ) -> list[str]:
        for metric, found in ((INCOMING_METRIC, incoming), (SOURCE_ROWS_METRIC, rows)):
            if not found:
                return [f"no {metric} datapoints{after}: cannot tell that writes stopped"]
        if not latency:
            return [f"no CDC latency datapoints{after}: cannot tell that CDC drained"]

        period = params.period_seconds
        done = complete(merge_max(incoming, rows, latency), end, period)
        last = sorted(done)[-params.consecutive_samples :]
        problems: list[str] = []
        for at in last:
            changes, arrived, lag = incoming.get(at), rows.get(at), latency.get(at)
            shown = (
                f"{INCOMING_METRIC} {'no data' if changes is None else f'{changes:g}'}",
                f"{SOURCE_ROWS_METRIC} {'no data' if arrived is None else f'{arrived:g}'}",
                f"CDC latency {'no data' if lag is None else f'{lag:g} s'}",
            )
            details.append(f"{at.isoformat()}: {', '.join(shown)}")
            if changes is None or changes > 0:
                problems.append(f"{shown[0]} at {at.isoformat()}")
            if arrived is None or arrived > 0:
                problems.append(f"{shown[1]} at {at.isoformat()}")
            if lag is None or lag >= params.drain_threshold_seconds:
                problems.append(f"{shown[2]} at {at.isoformat()}")
        # The minute still running proves nothing yet, but what it already holds can fail.
        for metric, found in ((INCOMING_METRIC, incoming), (SOURCE_ROWS_METRIC, rows)):
            for at, value in sorted(found.items()):
                if at not in done and value > 0:
                    problems.append(
                        f"{metric} {value:g} so far in the minute from {at.isoformat()}"
                    )
        if last:
            too_old = stale(last[-1], end, period, params.max_sample_age_seconds)
            if too_old is not None:
                problems.append(too_old)
        if len(last) < params.consecutive_samples:
            problems.insert(
                0, f"only {len(last)} of {params.consecutive_samples} complete samples{after}"
            )
        return problems

    @staticmethod
    def _passed(
        params: WritesStoppedParams,
        end: datetime,
        rows: Series,
        latency: Series,
        quiet_since: datetime | None,
        details: list[str],
        evidence: dict[str, Any],
    ) -> CheckResult:
        period = timedelta(seconds=params.period_seconds)
        done_rows = complete(rows, end, params.period_seconds)
        zero_since = _first_of_zero_run(done_rows)
        assert zero_since is not None  # the last samples were judged zero
        covered_to = max(done_rows) + period
        if quiet_since is None:  # the emulator: CloudWatch alone, proven to its newest sample
            stopped_since, proven_to, least = zero_since, covered_to, "at least "
            proof = (
                f"no {SOURCE_ROWS_METRIC} from {zero_since.isoformat()} to {covered_to.isoformat()}"
            )
        else:
            # The counters cover from their first unchanged reading to now; joined to the
            # samples only when there is no gap between the two.
            stopped_since = zero_since if quiet_since <= covered_to else quiet_since
            proven_to, least = end, ""
            proof = (
                f"no {SOURCE_ROWS_METRIC} since {zero_since.isoformat()}; DMS table counters "
                f"unchanged since {quiet_since.isoformat()}"
            )
        stopped_for = (proven_to - stopped_since).total_seconds()
        evidence.update(
            writes_stopped_since=stopped_since.isoformat(), writes_stopped_for_seconds=stopped_for
        )
        details.append(f"writes stopped: {proof}")
        shown = sorted(complete(latency, end, params.period_seconds))[-params.consecutive_samples :]
        return CheckResult.passed(
            f"writes stopped for {least}{duration(stopped_for)} "
            f"(since {stopped_since.isoformat()}); CDC drained: {INCOMING_METRIC} 0, "
            f"latency < {params.drain_threshold_seconds:g} s "
            f"in the last {len(shown)} samples",
            details,
            **evidence,
        )
