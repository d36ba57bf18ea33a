"""cognito.signin_success: the target pool's sign-in success rate, a rollback criterion.

The playbook rolls back when authentication success drops below 95 %. Cognito
publishes `SignInSuccesses` in `AWS/Cognito` per user pool and app client
(dimensions `UserPool` and `UserPoolClient`): each sign-in request is one
sample, 1 when tokens were issued, 0 otherwise (a throttled request too). So
`SampleCount` is the number of sign-ins, `Sum` the successful ones and
`Average` the success rate; over the window the rate is Sum / SampleCount of
all its periods (not an average of per-period averages).

Too few sign-ins are no evidence either way: below `min_signins` the check
warns, unless the failures already seen sink the rate below the threshold even
if every sign-in still needed to reach `min_signins` succeeded (then it fails).
No sign-in at all in the window warns: Cognito publishes nothing without
requests, so silence says nothing about the migration. The app client is first
looked up in the pool (ListUserPoolClients, which returns no secrets): a client
ID that is not there would read as silence forever.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from checks.cloudwatch.common import (
    MetricQuery,
    MetricsUnavailable,
    WindowParams,
    read_series,
    total,
)
from checks.cognito.migration_progress import POOL_ID
from checks.dms.common import as_points
from runbook.aws.errors import error_code
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

NAMESPACE = "AWS/Cognito"
METRIC = "SignInSuccesses"


class SigninSuccessParams(WindowParams):
    target_client_id: str = Field(
        pattern=r"^[\w+]+$", max_length=128, description="The app client the app signs in with."
    )
    target_user_pool_id: str | None = Field(
        default=None, pattern=POOL_ID, description="Default: cognito.target_user_pool_id."
    )
    min_success_rate: float = Field(
        default=0.95, gt=0, le=1, description="Fail below this share of successful sign-ins."
    )
    min_signins: int = Field(
        default=20, ge=1, description="Fewer sign-ins in the window are too few to judge by."
    )


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def _client_problem(ctx: CheckContext, pool: str, client_id: str) -> str | None:
    """Why the app client cannot be read in the pool, or None when it is there."""
    idp = ctx.client("target", "cognito-idp")
    try:
        for page in idp.get_paginator("list_user_pool_clients").paginate(
            UserPoolId=pool, PaginationConfig={"PageSize": 60}
        ):
            if any(c.get("ClientId") == client_id for c in page.get("UserPoolClients", [])):
                return None
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return f"target user pool {pool} not found"
    return f"app client {client_id} is not a client of the target pool {pool}"


class SigninSuccessCheck(Check[SigninSuccessParams]):
    meta = CheckMeta(
        id="cognito.signin_success",
        title="Sign-in success rate on the target pool stays above the threshold",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=("cognito-idp:ListUserPoolClients", "cloudwatch:GetMetricData"),
        remediation=(
            "Sign-ins are failing in the target. Look at the UserMigration trigger (its "
            "Errors, Throttles and Duration: lambda.trigger_health; its logs for refused "
            "sign-ins and timeouts), the source role it assumes, and the app client's auth "
            "flows. Below the criterion agreed before the flip, roll back (the DNS flip), "
            "then ask the source owner to re-enable writes."
        ),
        live=True,
    )
    params_model = SigninSuccessParams

    def run(self, ctx: CheckContext, params: SigninSuccessParams) -> CheckResult:
        pool = params.target_user_pool_id or (
            ctx.runbook.cognito.target_user_pool_id if ctx.runbook.cognito else None
        )
        if pool is None:
            return CheckResult.failed(
                "no target user pool: set target_user_pool_id or the runbook's [cognito] table"
            )
        client = params.target_client_id
        problem = _client_problem(ctx, pool, client)
        if problem is not None:
            return CheckResult.failed(problem, user_pool=pool, client_id=client)

        dims = (("UserPool", pool), ("UserPoolClient", client))
        start, end = params.span(ctx)
        try:
            series = read_series(
                ctx,
                "target",
                [
                    MetricQuery("sum", NAMESPACE, METRIC, dims, "Sum"),
                    MetricQuery("count", NAMESPACE, METRIC, dims, "SampleCount"),
                ],
                start,
                end,
                params.period_seconds,
            )
        except MetricsUnavailable as exc:
            return CheckResult.errored(str(exc), user_pool=pool, client_id=client)
        sums, counts = series["sum"], series["count"]
        signins, successes = int(total(counts)), total(sums)
        rates = {at: sums.get(at, 0.0) / n for at, n in counts.items() if n > 0}
        window = f"the last {params.window_minutes} min"
        threshold = params.min_success_rate
        evidence: dict[str, Any] = {
            "series": {"success_rate": as_points(rates)},
            "thresholds": {"success_rate": {"fail_below": threshold}},
            "signins": signins,
            "successes": successes,
            "user_pool": pool,
            "client_id": client,
            "window_minutes": params.window_minutes,
            "metric": {"namespace": NAMESPACE, "name": METRIC, "dimensions": dict(dims)},
        }
        if signins == 0:
            return CheckResult.warned(
                f"no sign-ins on app client {client} in {window}: success rate unknown",
                [
                    f"{NAMESPACE} {METRIC} has no datapoint for UserPool={pool}, "
                    f"UserPoolClient={client}: Cognito publishes it only when users sign in",
                    "no traffic yet (DNS still resolving to the source?), or the app signs "
                    "in with another client",
                ],
                **evidence,
            )
        rate = successes / signins
        evidence["success_rate"] = rate
        failed = signins - int(successes)
        details = [
            f"{int(successes)} of {signins} sign-ins succeeded ({_pct(rate)}), {failed} failed, "
            f"in {window}; threshold {_pct(threshold)}"
        ]
        if signins < params.min_signins:
            # Best case: every sign-in still needed to reach min_signins succeeds.
            best = (successes + params.min_signins - signins) / params.min_signins
            if best < threshold:
                return CheckResult.failed(
                    f"sign-in success {_pct(rate)} ({failed} of {signins} failed) in {window}: "
                    f"below {_pct(threshold)} even if the next "
                    f"{params.min_signins - signins} succeed",
                    details,
                    **evidence,
                )
            return CheckResult.warned(
                f"only {signins} sign-ins in {window} (fewer than {params.min_signins}): "
                f"too few to judge, {_pct(rate)} so far",
                details,
                **evidence,
            )
        if rate < threshold:
            return CheckResult.failed(
                f"sign-in success {_pct(rate)} in {window} is below {_pct(threshold)} "
                f"({failed} of {signins} failed)",
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"sign-in success {_pct(rate)} over {signins} sign-ins in {window} "
            f"(>= {_pct(threshold)})",
            details,
            **evidence,
        )
