"""lambda.trigger_health: the UserMigration trigger answers in time, unthrottled, mostly error-free.

Cognito waits 5 s for the trigger, cold start included: a slower answer is a
failed sign-in. Read from `AWS/Lambda` by the `FunctionName` dimension (every
version and alias together) over the window:

- `Throttles` (Sum): each is a user who could not sign in (throttled attempts
  are not invocations); any at all fails by default.
- `Errors` (Sum) against `Invocations` (Sum): the trigger refuses a wrong
  password or an unknown user by raising, and Lambda counts every raised
  exception as an error, so some errors are normal. The share above
  `max_error_rate` fails; timeouts and crashes are errors too, and show in
  Duration and the logs.
- `Duration` p99 (`Stat: p99`) of each period: at or above `limit_ms` (Cognito's
  5 s) fails, above `warn_ms` warns. The emulator computes no percentiles; there
  the `Maximum` stands in (never below the p99, so it can only be stricter).

No invocation in the window warns: the trigger runs only when a user not yet
in the target signs in, so silence says nothing about its health. The function
is the target pool's UserMigration trigger unless named, and is looked up
first (a wrong name would read as silence forever).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, model_validator

from checks.cloudwatch.common import (
    MetricQuery,
    MetricsUnavailable,
    Series,
    WindowParams,
    read_series,
    total,
)
from checks.cognito.migration_progress import POOL_ID
from checks.dms.common import as_points
from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

NAMESPACE = "AWS/Lambda"
COGNITO_WAIT_MS = 5000.0


class TriggerHealthParams(WindowParams):
    function_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9:_\-]+$",
        max_length=170,
        description=(
            "The function's name or ARN. Default: the target pool's UserMigration trigger."
        ),
    )
    target_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.target_user_pool_id."
    )
    limit_ms: float = Field(
        default=COGNITO_WAIT_MS, gt=0, description="Fail when Duration p99 reaches this."
    )
    warn_ms: float = Field(default=4000.0, gt=0, description="Warn when Duration p99 is above.")
    max_error_rate: float = Field(
        default=0.05, ge=0, le=1, description="Fail when Errors / Invocations is above this."
    )
    max_throttles: int = Field(default=0, ge=0, description="Fail above this many throttles.")

    @model_validator(mode="after")
    def _warn_below_limit(self) -> TriggerHealthParams:
        if self.warn_ms > self.limit_ms:
            raise ValueError("warn_ms is above limit_ms")
        return self


class NoFunction(LookupError):
    """No function to judge: the check fails with this message."""


def function_name_of(ref: str) -> str:
    """The `FunctionName` dimension's value: the bare name, without ARN or qualifier."""
    if ref.startswith("arn:"):
        return ref.split(":")[6]
    return ref.split(":")[0]


def _trigger_of_pool(ctx: CheckContext, params: TriggerHealthParams) -> str:
    pool = params.target_user_pool_id or (
        ctx.runbook.cognito.target_user_pool_id if ctx.runbook.cognito else None
    )
    if pool is None:
        raise NoFunction(
            "no function_name and no target user pool to find the trigger in "
            "(set function_name, target_user_pool_id or the runbook's [cognito] table)"
        )
    try:
        described = ctx.client("target", "cognito-idp").describe_user_pool(UserPoolId=pool)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        raise NoFunction(f"target user pool {pool} not found") from None
    arn = (described["UserPool"].get("LambdaConfig") or {}).get("UserMigration")
    if not arn:
        raise NoFunction(f"target user pool {pool} has no UserMigration trigger attached")
    return str(arn)


def _configuration(ctx: CheckContext, ref: str) -> dict[str, Any]:
    try:
        config: dict[str, Any] = ctx.client("target", "lambda").get_function_configuration(
            FunctionName=ref
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        raise NoFunction(f"Lambda function {ref} not found in the target account") from None
    return config


def _rate(part: float, whole: float) -> str:
    return f"{part / whole * 100:.1f} %" if whole else "n/a"


class TriggerHealthCheck(Check[TriggerHealthParams]):
    meta = CheckMeta(
        id="lambda.trigger_health",
        title="UserMigration trigger: no throttles, few errors, p99 under Cognito's 5 s",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=(
            "cognito-idp:DescribeUserPool",
            "lambda:GetFunctionConfiguration",
            "cloudwatch:GetMetricData",
        ),
        remediation=(
            "Throttles: raise the function's reserved concurrency (or the account's "
            "concurrency quota). Slow p99: cold starts (provisioned concurrency), the source "
            "role's AssumeRole or the source pool's latency; the trigger must answer within "
            "Cognito's 5 s. Errors above the usual share of refused passwords: read the "
            "function's logs (timeouts, AccessDenied on the source role). Breached after the "
            "flip: roll back, then ask the source owner to re-enable writes."
        ),
        live=True,
    )
    params_model = TriggerHealthParams

    def run(self, ctx: CheckContext, params: TriggerHealthParams) -> CheckResult:
        try:
            ref = params.function_name or _trigger_of_pool(ctx, params)
            config = _configuration(ctx, ref)
        except NoFunction as exc:
            return CheckResult.failed(str(exc))
        name = function_name_of(str(config.get("FunctionName") or ref))
        dims = (("FunctionName", name),)
        # The emulator has no percentiles; its Maximum is never below the p99.
        duration_stat = "Maximum" if ctx.emulated else "p99"
        start, end = params.span(ctx)
        try:
            series = read_series(
                ctx,
                "target",
                [
                    MetricQuery("invocations", NAMESPACE, "Invocations", dims, "Sum"),
                    MetricQuery("errors", NAMESPACE, "Errors", dims, "Sum"),
                    MetricQuery("throttles", NAMESPACE, "Throttles", dims, "Sum"),
                    MetricQuery("duration", NAMESPACE, "Duration", dims, duration_stat),
                ],
                start,
                end,
                params.period_seconds,
            )
        except MetricsUnavailable as exc:
            return CheckResult.errored(str(exc), function_name=name)
        return self._judge(ctx, params, name, config, series, duration_stat)

    def _judge(
        self,
        ctx: CheckContext,
        params: TriggerHealthParams,
        name: str,
        config: dict[str, Any],
        series: dict[str, Series],
        duration_stat: str,
    ) -> CheckResult:
        invocations, errors = total(series["invocations"]), total(series["errors"])
        throttles = total(series["throttles"])
        durations = series["duration"]
        worst = max(durations.values(), default=None)
        window = f"the last {params.window_minutes} min"
        evidence: dict[str, Any] = {
            "function_name": name,
            "function_timeout_s": config.get("Timeout"),
            "invocations": invocations,
            "errors": errors,
            "throttles": throttles,
            "duration_stat": duration_stat,
            "duration_worst_ms": worst,
            "series": {
                f"duration_{duration_stat.lower()}_ms": as_points(durations),
                "errors": as_points(series["errors"]),
                "throttles": as_points(series["throttles"]),
            },
            "thresholds": {
                f"duration_{duration_stat.lower()}_ms": {
                    "warn_above": params.warn_ms,
                    "fail_at": params.limit_ms,
                },
                "error_rate": {"fail_above": params.max_error_rate},
                "throttles": {"fail_above": params.max_throttles},
            },
            "window_minutes": params.window_minutes,
        }
        details = [
            f"{name} in {window}: {invocations:g} invocations, {errors:g} errors "
            f"({_rate(errors, invocations)}), {throttles:g} throttles",
        ]
        if worst is not None:
            details.append(
                f"Duration {duration_stat}: worst {worst:g} ms per {params.period_seconds} s "
                f"period (warn above {params.warn_ms:g} ms, Cognito gives up at "
                f"{params.limit_ms:g} ms)"
            )
        if ctx.emulated:
            details.append("emulator: Duration Maximum stands in for the p99 it cannot compute")
        if errors:
            details.append(
                "the trigger refuses wrong passwords and unknown users by raising: Lambda "
                "counts those as errors, and so do timeouts and crashes (see its logs)"
            )

        problems: list[str] = []
        if throttles > params.max_throttles:
            problems.append(f"{throttles:g} throttled invocations (sign-ins refused)")
        if invocations and errors / invocations > params.max_error_rate:
            problems.append(
                f"errors {_rate(errors, invocations)} of invocations "
                f"(above {params.max_error_rate * 100:g} %)"
            )
        if worst is not None and worst >= params.limit_ms:
            problems.append(
                f"Duration {duration_stat} {worst:g} ms reached Cognito's {params.limit_ms:g} ms"
            )
        if problems:
            return CheckResult.failed(
                f"trigger {name} unhealthy in {window}: {'; '.join(problems)}", details, **evidence
            )
        if not invocations:
            return CheckResult.warned(
                f"trigger {name} not invoked in {window}: its health is unknown",
                [
                    *details,
                    "it runs only when a user not yet in the target signs in: no such "
                    "sign-in yet, or every user has migrated",
                ],
                **evidence,
            )
        if worst is None:
            return CheckResult.warned(
                f"trigger {name}: {invocations:g} invocations but no Duration datapoint in "
                f"{window}: its latency is unknown",
                details,
                **evidence,
            )
        if worst > params.warn_ms:
            return CheckResult.warned(
                f"trigger {name} slow: Duration {duration_stat} {worst:g} ms in {window} "
                f"(Cognito gives up at {params.limit_ms:g} ms)",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"trigger {name} healthy in {window}: {invocations:g} invocations, "
            f"{errors:g} errors, {throttles:g} throttles, Duration {duration_stat} {worst:g} ms",
            details,
            **evidence,
        )
