"""CloudWatch alarms and SNS topics: one alarm still notifies the source's topic."""

from __future__ import annotations

from typing import Any

from runbook.demo.model import DemoWorld


def seed_alarms(world: DemoWorld) -> None:
    world.source_topic_arn = world.client("source", "sns").create_topic(Name="acme-alerts")[
        "TopicArn"
    ]
    world.target_topic_arn = world.client("target", "sns").create_topic(Name="acme-alerts")[
        "TopicArn"
    ]
    cloudwatch = world.client("target", "cloudwatch")
    common: dict[str, Any] = {
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    # Copied from the source with its template: still notifies the source's topic.
    cloudwatch.put_metric_alarm(
        AlarmName=world.alarm_name,
        AlarmDescription="API 5xx rate (copied from the source account)",
        MetricName="HTTPCode_Target_5XX_Count",
        Threshold=25,
        AlarmActions=[world.source_topic_arn],
        OKActions=[world.source_topic_arn],
        **common,
    )
    # Already re-pointed: notifies the target's topic.
    cloudwatch.put_metric_alarm(
        AlarmName="acme-api-latency",
        AlarmDescription="API p99 latency",
        MetricName="TargetResponseTime",
        Threshold=1.5,
        AlarmActions=[world.target_topic_arn],
        **{**common, "Statistic": "Maximum"},
    )
    # CloudWatch evaluates a new alarm within a period or two; moto never does, and
    # leaves it "Unchecked: Initial alarm creation". With no 5xx and no traffic,
    # treated as not breaching, AWS would settle both on OK: say so, as it would.
    for name in (world.alarm_name, "acme-api-latency"):
        cloudwatch.set_alarm_state(
            AlarmName=name,
            StateValue="OK",
            StateReason="Threshold Crossed: no datapoints were received (treated as not breaching)",
        )
