"""How each check that fails at first is cleared in the demo: fixes in the emulator, and hints.

`FIXES` change the emulated world with a key in the app (`f`) and return what
they changed, in one line; `HINTS` tell the operator what to do about every
check that does not pass at first, fixable or not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runbook.demo.model import SOURCE_ACCOUNT, DemoWorld
from runbook.demo.seed.cognito import create_user
from runbook.formatting import plural


def _fix_source_refs(world: DemoWorld) -> str:
    """Re-point target Lambda environments that name the source account."""
    lam = world.client("target", "lambda")
    changed: list[str] = []
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            name = fn["FunctionName"]
            if name == world.trigger_function:
                continue  # its OLD_ROLE_ARN must name the source: allowed in the runbook
            variables: dict[str, str] = (fn.get("Environment") or {}).get("Variables") or {}
            fixed = {
                k: v.replace(world.source_account, world.target_account)
                for k, v in variables.items()
            }
            if fixed != variables:
                lam.update_function_configuration(
                    FunctionName=name, Environment={"Variables": fixed}
                )
                keys = ", ".join(k for k in fixed if fixed[k] != variables[k])
                changed.append(f"{name} ({keys})")
    if not changed:
        return "no target Lambda environment names the source account; nothing changed"
    return (
        f"Lambda {'; '.join(changed)} now name the target account {world.target_account} "
        f"instead of {world.source_account}"
    )


_ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)
_ACTION_FIELDS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def _fix_alarm_topics(world: DemoWorld) -> str:
    """Point every target alarm action at the same-named topic in the target account."""
    cloudwatch = world.client("target", "cloudwatch")
    sns = world.client("target", "sns")
    source_prefix = f":{world.source_account}:"
    changed: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            actions = {f: list(alarm.get(f) or []) for f in _ACTION_FIELDS}
            if not any(source_prefix in arn for arns in actions.values() for arn in arns):
                continue
            repointed: dict[str, list[str]] = {}
            for f, arns in actions.items():
                repointed[f] = []
                for arn in arns:
                    if arn.startswith("arn:aws:sns:") and source_prefix in arn:
                        topic = arn.rsplit(":", 1)[-1]
                        arn = sns.create_topic(Name=topic)["TopicArn"]  # idempotent
                    repointed[f].append(arn)
            kwargs = {f: alarm[f] for f in _ALARM_FIELDS if alarm.get(f) not in (None, [])}
            cloudwatch.put_metric_alarm(**kwargs, **{f: v for f, v in repointed.items() if v})
            # AWS leaves an updated alarm's state as it was; moto resets it to unchecked.
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"],
                StateValue=alarm["StateValue"],
                StateReason=alarm["StateReason"],
            )
            changed.append(alarm["AlarmName"])
    if not changed:
        return "no target alarm notifies the source account; nothing changed"
    return (
        f"alarm {', '.join(changed)} now notifies topics in the target account "
        f"{world.target_account}"
    )


def _fix_writes_stopped(world: DemoWorld) -> str:
    world.source_read_only.set()
    return (
        "source database marked read-only in the emulator: CDCIncomingChanges falls to 0 "
        "from the next sample (the read-only step must still be confirmed)"
    )


def _fix_migration_progress(world: DemoWorld, *, percent: float = 92.0) -> str:
    """Simulate the sign-ins of the parallel run: the trigger moves users to the target."""
    source = world.client("source", "cognito-idp")
    target = world.client("target", "cognito-idp")

    def users(client: Any, pool: str) -> Iterator[dict[str, Any]]:
        for page in client.get_paginator("list_users").paginate(UserPoolId=pool):
            yield from page.get("Users", [])

    def email(user: dict[str, Any]) -> str:
        found = (a["Value"] for a in user.get("Attributes", []) if a["Name"] == "email")
        return str(next(found, "")).casefold()

    # Usernames are generated (the pools sign in by email): users match by email.
    moved = {email(u) for u in users(target, world.target_pool_id)}
    everyone = list(users(source, world.source_pool_id))
    wanted = math.ceil(len(everyone) * percent / 100.0)
    pending = [u for u in everyone if email(u) not in moved][: max(0, wanted - len(moved))]

    def move(user: dict[str, Any]) -> None:
        attributes = {
            a["Name"]: a["Value"]
            for a in user.get("Attributes", [])
            if a["Name"] not in ("sub", "email_verified")
        }
        create_user(target, world.target_pool_id, attributes)

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-fix") as pool:
        list(pool.map(move, pending))
    world.users_migrated = len(moved) + len(pending)
    return (
        f"{plural(len(pending), 'user')} signed in to the target: migrated (simulated); "
        f"{world.users_migrated} of {len(everyone)} now in the target pool"
    )


FIXES: dict[str, Callable[[DemoWorld], str]] = {
    "refs.source_account": _fix_source_refs,
    "alarms.topics": _fix_alarm_topics,
    "source.writes_stopped": _fix_writes_stopped,
    "cognito.migration_progress": _fix_migration_progress,
    # The window waits for the same share: the same wave of sign-ins clears it.
    "cognito.migration_window": _fix_migration_progress,
}
"""Fixes applied in the emulator with a key in the app; each returns what it changed."""

_FIX_OR_WAIVE = "press f to fix it in the emulator, or w to waive with a reason"

HINTS: dict[str, str] = {
    "refs.source_account": (
        f"A target Lambda's environment still names the source account {SOURCE_ACCOUNT}: "
        + _FIX_OR_WAIVE
        + " (the fix re-points it at the target)."
    ),
    "alarms.topics": (
        "An alarm copied from the source still notifies the source's SNS topic: "
        + _FIX_OR_WAIVE
        + " (the fix re-points it at the target's topic)."
    ),
    "dms.cdc_lag": (
        "CDC is still catching up after the full load; in the demo its lag falls below "
        "60 s within the first minutes. Re-run the checks with r in a minute or two: "
        "in life you would wait, not waive."
    ),
    "source.writes_stopped": (
        "Confirm the read-only step first; the emulated task then sees no more incoming "
        "changes and drains within about 3 minutes: re-run with r. (f marks the source "
        "read-only in the emulator at once; w waives with a reason.)"
    ),
    "dns.ttl": (
        "The lowered TTL must be in force for 24 h or one old TTL; in a rehearsal, waive "
        "it with a reason (w)."
    ),
    "codestar.connections": (
        "Skipped: the emulator has no CodeStar Connections API, and skipped does not pass "
        "a gate. Waive it with a reason (w), e.g. 'connection re-authorised in the console'."
    ),
    "cfn.drift": (
        "Skipped: the emulator has no CloudFormation drift detection. The check is "
        "advisory, so it does not hold the step."
    ),
    "dms.validation": (
        "Skipped: the emulator has no DescribeTableStatistics, so no table's validation "
        "state can be read, and skipped does not pass a gate. Waive it with a reason (w); "
        "in life, every table must read Validated before replication stops."
    ),
    "dms.task": (
        "Warns in the demo: the emulator has no DescribeTableStatistics, so table errors "
        "cannot be checked. A warning does not hold the gate."
    ),
    "cognito.signin_success": (
        "Warns in the demo: nobody signs in to the emulator, so Cognito publishes no "
        "SignInSuccesses and the rate is unknown. A warning is no breach; in life, too few "
        "sign-ins are no evidence either way."
    ),
    "lambda.trigger_health": (
        "Warns in the demo: the emulator never invokes Cognito triggers, so the trigger has "
        "no Invocations to judge. A warning is no breach."
    ),
    "synthetic.http": (
        "Before the flip the app's name still answers from the source, without the target's "
        "X-Served-By header: advisory, it passes once flip-dns has sent the name to the target."
    ),
    "cognito.migration_progress": (
        "Advisory: only the users who signed in since the trigger went live have moved. "
        "Press f to simulate a wave of sign-ins, or carry on: the rest are force-migrated "
        "after the flip."
    ),
    "cognito.canary_signin": (
        "Skipped: the emulator never invokes Cognito triggers, so no sign-in can prove them, "
        "and skipped does not pass a gate. Waive it with a reason (w); against AWS, a canary "
        "user signs in to the target."
    ),
    "cognito.migration_window": (
        "Force-migration waits for the migration window after the flip (0 days in the demo) "
        "and for 92 % of users moved: flip DNS first, then press f to simulate the wave of "
        "sign-ins, and r to check again."
    ),
}
"""How each check that does not pass at first is cleared in the demo."""


def bound_fixes(world: DemoWorld) -> dict[str, Callable[[], str]]:
    """FIXES bound to one world: what the app's demo hooks call."""

    def bind(fix: Callable[[DemoWorld], str]) -> Callable[[], str]:
        return lambda: fix(world)

    return {check: bind(fix) for check, fix in FIXES.items()}
