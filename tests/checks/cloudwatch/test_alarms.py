"""cloudwatch.alarms against metric alarms in moto; composite alarms through a Stubber.

moto has no PutCompositeAlarm, and returns composite alarms whatever AlarmTypes
says; AWS returns them only when AlarmTypes names them, so their tests check
the request too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from runbook.checkapi import CheckContext, Status
from tests.support.checks import Clients
from tests.support.checks import run_check as run


def alarm(clients: Clients, name: str, state: str) -> None:
    """A metric alarm on the trigger's errors, set to `state`."""
    cw = clients("target", "cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "usermigration"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test says {state}")


def test_an_alarm_never_evaluated_warns(check_context: CheckContext, clients: Clients) -> None:
    """moto creates alarms OK ("Unchecked: Initial alarm creation") and never evaluates them."""
    cw = clients("target", "cloudwatch")
    cw.put_metric_alarm(
        AlarmName="desapp-5xx",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    result = run(check_context, "cloudwatch.alarms", {"names": ["desapp-5xx"]})
    assert result.status == Status.WARN, result
    assert result.summary == "never evaluated since created: desapp-5xx"


def test_named_alarms_all_ok_pass(check_context: CheckContext, clients: Clients) -> None:
    alarm(clients, "desapp-5xx", "OK")
    alarm(clients, "desapp-latency", "OK")
    alarm(clients, "unwatched", "ALARM")  # not named: does not count
    names = ["desapp-5xx", "desapp-latency"]
    result = run(check_context, "cloudwatch.alarms", {"names": names})
    assert result.status == Status.PASS, result
    assert result.summary == "2 alarm(s) OK (the named alarms)"
    assert set(result.evidence["alarms"]) == set(names)


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        pytest.param({"prefix": "desapp-"}, Status.FAIL, "in ALARM: desapp-latency", id="alarm"),
        pytest.param(
            {"names": ["desapp-5xx", "desapp-nodata"]},
            Status.WARN,
            "INSUFFICIENT_DATA (cannot tell): desapp-nodata",
            id="insufficient-data",
        ),
        pytest.param(
            {"names": ["desapp-5xx", "desapp-typo"]},
            Status.FAIL,
            "not found in the target: desapp-typo",
            id="named-missing",
        ),
        pytest.param(
            {"prefix": "nothing-"}, Status.WARN, "nothing watched", id="prefix-matches-none"
        ),
    ],
)
def test_states_judged(
    check_context: CheckContext,
    clients: Clients,
    params: dict[str, Any],
    status: Status,
    named: str,
) -> None:
    alarm(clients, "desapp-5xx", "OK")
    alarm(clients, "desapp-latency", "ALARM")
    alarm(clients, "desapp-nodata", "INSUFFICIENT_DATA")
    result = run(check_context, "cloudwatch.alarms", params)
    assert result.status == status, result
    assert named in result.summary


AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def composite(name: str, state: str) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmRule": 'ALARM("desapp-5xx") OR ALARM("desapp-latency")',
        "StateValue": state,
        "StateReason": f"children say {state}",
        "StateUpdatedTimestamp": AT,
    }


def metric(name: str, state: str) -> dict[str, Any]:
    return {"AlarmName": name, "StateValue": state, "StateUpdatedTimestamp": AT}


@pytest.mark.parametrize(
    ("state", "status"),
    [("ALARM", Status.FAIL), ("INSUFFICIENT_DATA", Status.WARN), ("OK", Status.PASS)],
)
def test_composite_alarms_are_asked_for_and_judged(
    check_context: CheckContext, state: str, status: Status
) -> None:
    answer = {
        "MetricAlarms": [metric("desapp-5xx", "OK")],
        "CompositeAlarms": [composite("desapp-health", state)],
    }
    expected = {
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        "AlarmNames": ["desapp-5xx", "desapp-health"],
    }
    with Stubber(check_context.client("target", "cloudwatch")) as stub:
        stub.add_response("describe_alarms", answer, expected)
        result = run(check_context, "cloudwatch.alarms", {"names": ["desapp-5xx", "desapp-health"]})
        stub.assert_no_pending_responses()
    assert result.status == status, result
    assert result.evidence["alarms"]["desapp-health"] == {
        "type": "composite",
        "state": state,
        "reason": f"children say {state}",
    }
    line = f"desapp-health (composite) {state} since 2024-05-01T12:00:00+00:00: children say"
    assert any(d.startswith(line) for d in result.details)


def test_alarms_on_later_pages_count(check_context: CheckContext) -> None:
    with Stubber(check_context.client("target", "cloudwatch")) as stub:
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": [metric("desapp-a", "OK")], "NextToken": "page2"},
            {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "AlarmNamePrefix": "desapp-"},
        )
        stub.add_response(
            "describe_alarms",
            {"CompositeAlarms": [composite("desapp-z", "ALARM")]},
            {
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
                "AlarmNamePrefix": "desapp-",
                "NextToken": "page2",
            },
        )
        result = run(check_context, "cloudwatch.alarms", {"prefix": "desapp-"})
        stub.assert_no_pending_responses()
    assert result.status == Status.FAIL, result
    assert result.summary == "in ALARM: desapp-z"


@pytest.mark.parametrize(
    "params",
    [{}, {"names": ["a"], "prefix": "a"}, {"names": ["x" * 256]}, {"names": ["a"] * 101}],
    ids=["neither", "both", "name-too-long", "too-many-names"],
)
def test_params_take_names_or_a_prefix(params: dict[str, Any]) -> None:
    from runbook.registry import CheckRegistry

    model = CheckRegistry.discover(plugins=False).get("cloudwatch.alarms").params_model
    with pytest.raises(ValidationError):
        model.model_validate(params)
