"""alarms.topics against moto CloudWatch alarms and SNS topics in the target."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.checkapi import CheckContext, Status
from tests.support.checks import run_check as run
from tests.support.runbooks import REGION, SOURCE, TARGET


def put_alarm(admin: Any, name: str, **actions: list[str]) -> None:
    admin("target").client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        **actions,
    )


@pytest.fixture
def target_topic(admin: Any, check_context: CheckContext) -> str:
    return str(admin("target").client("sns").create_topic(Name="oncall")["TopicArn"])


def test_alarms_target_topics_pass(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    put_alarm(
        admin,
        "api-5xx",
        AlarmActions=[target_topic, f"arn:aws:automate:{REGION}:ec2:reboot"],
        OKActions=[target_topic],
    )
    result = run(check_context, "alarms.topics")
    assert result.status == Status.PASS, result
    assert "2 SNS actions on 1 alarms" in result.summary


def test_alarm_on_the_source_accounts_topic_fails_and_says_so(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    source_topic = f"arn:aws:sns:{REGION}:{SOURCE}:oncall"
    put_alarm(admin, "api-5xx", AlarmActions=[target_topic])
    put_alarm(admin, "db-cpu", AlarmActions=[target_topic], OKActions=[source_topic])
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert "db-cpu" in result.summary and "api-5xx" not in result.summary
    assert "at the source account" in result.summary
    assert f"alarm db-cpu: OKActions -> {source_topic} (topic in the SOURCE account {SOURCE})" in (
        result.details
    )


def test_alarm_on_a_third_accounts_topic_fails(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    foreign = f"arn:aws:sns:{REGION}:999999999999:ops"
    put_alarm(admin, "queue-depth", InsufficientDataActions=[foreign])
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert "source" not in result.summary.lower()
    line = f"alarm queue-depth: InsufficientDataActions -> {foreign}"
    assert f"{line} (topic in foreign account 999999999999)" in result.details


def test_alarm_on_a_missing_target_topic_fails_unless_not_required(
    admin: Any, check_context: CheckContext, target_topic: str
) -> None:
    missing = f"arn:aws:sns:{REGION}:{TARGET}:not-created-yet"
    put_alarm(admin, "latency", AlarmActions=[missing])
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert f"alarm latency: AlarmActions -> {missing} (topic does not exist in the target)" in (
        result.details
    )
    relaxed = run(check_context, "alarms.topics", {"require_topic_exists": False})
    assert relaxed.status == Status.PASS, relaxed


# --- nothing to judge is never a pass --------------------------------------------------


def put_source_alarm(admin: Any, name: str) -> None:
    admin("source").client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[f"arn:aws:sns:{REGION}:{SOURCE}:oncall"],
    )


def test_no_alarms_in_the_target_while_the_source_has_some_fails(
    admin: Any, check_context: CheckContext
) -> None:
    put_source_alarm(admin, "api-5xx")
    put_source_alarm(admin, "db-cpu")
    result = run(check_context, "alarms.topics")
    assert result.status == Status.FAIL, result
    assert result.summary == (
        "no alarms in the target, 2 in the source: not copied, nothing alerts after cutover"
    )
    assert result.evidence["alarms"] == 0 and result.evidence["source_alarms"] == 2


def test_no_alarms_anywhere_warns_that_nothing_was_judged(
    admin: Any, check_context: CheckContext
) -> None:
    result = run(check_context, "alarms.topics")
    assert result.status == Status.WARN, result
    assert result.summary.startswith("no alarms in the target (nor in the source)")
    assert "nothing to judge" in result.summary
    assert result.evidence["source_alarms"] == 0


def test_alarms_that_notify_no_topic_warn(admin: Any, check_context: CheckContext) -> None:
    put_alarm(admin, "cpu-reboot", AlarmActions=[f"arn:aws:automate:{REGION}:ec2:reboot"])
    put_alarm(admin, "silent")
    result = run(check_context, "alarms.topics")
    assert result.status == Status.WARN, result
    assert result.summary == "2 alarms, none notifies an SNS topic: nobody is told when they fire"
