"""alarms.topics: every alarm in the target notifies an SNS topic in the target.

Alarm actions are ARNs with the account ID in them; alarms copied from the
source keep notifying the source's topics, which nobody watches after the
cutover, so the first production alert goes nowhere.

No alarms at all is nothing to judge, never a pass: the source is read
(DescribeAlarms) to tell alarms that were not copied (fail) from a workload
that never had any (warn). Alarms with no SNS action notify nobody (warn).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from runbook.aws.errors import is_access_denied
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

ACTION_FIELDS = ("AlarmActions", "OKActions", "InsufficientDataActions")


class TopicsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    require_topic_exists: bool = Field(
        default=True,
        description=(
            "Also fail when an action names a target-account topic (in the target's region) "
            "that does not exist."
        ),
    )


def describe_alarms(cloudwatch: Any) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    ):
        alarms.extend(page.get("MetricAlarms", []))
        alarms.extend(page.get("CompositeAlarms", []))
    return alarms


def sns_topic(arn: str) -> tuple[str, str] | None:
    """(region, account) of an SNS topic ARN; None for any other action."""
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "sns":
        return parts[3], parts[4]
    return None


class AlarmTopicsCheck(Check[TopicsParams]):
    meta = CheckMeta(
        id="alarms.topics",
        title="CloudWatch alarms notify SNS topics in the target account",
        account="both",  # the source only when the target has no alarms
        blocking=True,
        severity="high",
        iam_actions=("cloudwatch:DescribeAlarms", "sns:ListTopics"),
        remediation=(
            "Create the topics (and their subscriptions) in the target account and point each "
            "listed alarm's actions at them (put-metric-alarm / put-composite-alarm, or the "
            "stack that owns the alarm)."
        ),
    )
    params_model = TopicsParams

    def run(self, ctx: CheckContext, params: TopicsParams) -> CheckResult:
        target = ctx.runbook.accounts.target
        source_id = ctx.runbook.accounts.source.account_id
        alarms = describe_alarms(ctx.client("target", "cloudwatch"))
        if not alarms:
            return self._no_alarms(ctx)

        existing: set[str] | None = None
        if params.require_topic_exists:
            sns = ctx.client("target", "sns")
            existing = {
                t["TopicArn"]
                for page in sns.get_paginator("list_topics").paginate()
                for t in page.get("Topics", [])
            }

        details: list[str] = []
        bad: list[dict[str, str]] = []
        sns_actions = 0
        for alarm in alarms:
            name = alarm["AlarmName"]
            for field in ACTION_FIELDS:
                for arn in alarm.get(field, []):
                    topic = sns_topic(arn)
                    if topic is None:
                        continue
                    sns_actions += 1
                    region, account = topic
                    if account == source_id:
                        why = f"topic in the SOURCE account {source_id}"
                    elif account != target.account_id:
                        why = f"topic in foreign account {account}"
                    elif existing is not None and region == target.region and arn not in existing:
                        why = "topic does not exist in the target"
                    else:
                        continue
                    bad.append({"alarm": name, "field": field, "topic": arn, "problem": why})
                    details.append(f"alarm {name}: {field} -> {arn} ({why})")

        evidence: dict[str, Any] = {
            "alarms": len(alarms),
            "sns_actions": sns_actions,
            "bad_actions": bad,
        }
        if bad:
            from_source = sum(1 for b in bad if "SOURCE" in b["problem"])
            names = sorted({b["alarm"] for b in bad})
            summary = f"{len(bad)} alarm actions point outside the target's topics"
            if from_source:
                summary += f" ({from_source} at the source account)"
            summary += f": {', '.join(names[:5])}" + (" ..." if len(names) > 5 else "")
            return CheckResult.failed(summary, details, **evidence)
        if not sns_actions:
            return CheckResult.warned(
                f"{len(alarms)} alarms, none notifies an SNS topic: nobody is told when they fire",
                [f"alarm {a['AlarmName']}: no SNS action" for a in alarms],
                **evidence,
            )
        return CheckResult.passed(
            f"{sns_actions} SNS actions on {len(alarms)} alarms all notify target-account topics",
            details,
            **evidence,
        )

    @staticmethod
    def _no_alarms(ctx: CheckContext) -> CheckResult:
        """Nothing to judge in the target: were the source's alarms left behind?"""
        try:
            source = len(describe_alarms(ctx.client("source", "cloudwatch")))
        except ClientError as exc:
            if not is_access_denied(exc):
                raise
            return CheckResult.failed(
                "no alarms in the target, and the source's could not be read to compare",
                [f"cloudwatch:DescribeAlarms on the source: {exc}"],
                alarms=0,
                source_alarms=None,
            )
        if source:
            return CheckResult.failed(
                f"no alarms in the target, {source} in the source: not copied, "
                "nothing alerts after cutover",
                ["re-create the source's alarms in the target, notifying target-account topics"],
                alarms=0,
                source_alarms=source,
            )
        return CheckResult.warned(
            "no alarms in the target (nor in the source): nothing to judge, and nothing "
            "alerts after cutover",
            ["a production workload usually alarms on errors and latency; add some if it should"],
            alarms=0,
            source_alarms=0,
        )
