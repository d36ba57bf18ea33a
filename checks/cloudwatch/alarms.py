"""cloudwatch.alarms: the named alarms, or those with a prefix, are OK in the target.

A watch criterion: `ALARM` fails, `INSUFFICIENT_DATA` warns (the alarm cannot
tell: no data yet, or its metric stopped), `OK` passes. Nothing to judge never
passes: a named alarm that does not exist fails (a typo would otherwise watch
nothing), a prefix that matches no alarm warns. An alarm whose reason is
still "Unchecked: Initial alarm creation" was never evaluated: AWS starts it in
INSUFFICIENT_DATA, the emulator (which evaluates no alarm) in OK; it warns.

DescribeAlarms returns only metric alarms unless `AlarmTypes` asks for
composite alarms too, and returns composite alarms only to a caller whose
`cloudwatch:DescribeAlarms` permission is on `*`: a named composite alarm that
a narrower policy hides is reported missing, with that hint.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

AlarmName = str
UNCHECKED = "Unchecked:"  # "Unchecked: Initial alarm creation": no evaluation yet


class AlarmsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    names: list[AlarmName] = Field(
        default_factory=list,
        max_length=100,  # DescribeAlarms' AlarmNames takes at most 100
        description="Alarm names (metric or composite), each must exist and be OK.",
    )
    prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Every alarm whose name starts with this must be OK.",
    )

    @model_validator(mode="after")
    def _names_or_prefix(self) -> AlarmsParams:
        if bool(self.names) == (self.prefix is not None):
            raise ValueError("give either `names` or `prefix` (DescribeAlarms takes one)")
        for name in self.names:
            if not 1 <= len(name) <= 255:
                raise ValueError(f"alarm name {name!r} is not 1 to 255 characters")
        return self


def find_alarms(cloudwatch: Any, params: AlarmsParams) -> list[dict[str, Any]]:
    """Metric and composite alarms by name or prefix, each tagged with its `Type`."""
    query: dict[str, Any] = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    if params.names:
        query["AlarmNames"] = list(params.names)
    else:
        query["AlarmNamePrefix"] = params.prefix
    found: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(**query):
        found += [{**a, "Type": "metric"} for a in page.get("MetricAlarms", [])]
        found += [{**a, "Type": "composite"} for a in page.get("CompositeAlarms", [])]
    return found


def _line(alarm: dict[str, Any]) -> str:
    since = alarm.get("StateUpdatedTimestamp")
    when = f" since {since.isoformat()}" if since is not None else ""
    reason = f": {alarm['StateReason']}" if alarm.get("StateReason") else ""
    return f"{alarm['AlarmName']} ({alarm['Type']}) {alarm.get('StateValue')}{when}{reason}"


class AlarmsCheck(Check[AlarmsParams]):
    meta = CheckMeta(
        id="cloudwatch.alarms",
        title="CloudWatch alarms watched after the flip are OK",
        account="target",
        blocking=True,
        severity="critical",
        iam_actions=("cloudwatch:DescribeAlarms",),
        remediation=(
            "An alarm in ALARM is a breach: read its reason and metric, and roll back if it "
            "is one of the criteria agreed before the flip. INSUFFICIENT_DATA: the metric is "
            "not arriving (no traffic yet, or the resource it watches is gone). A missing "
            "alarm: create it in the target, or fix the name; composite alarms are listed "
            "only when cloudwatch:DescribeAlarms is allowed on *."
        ),
        live=True,
    )
    params_model = AlarmsParams

    def run(self, ctx: CheckContext, params: AlarmsParams) -> CheckResult:
        alarms = find_alarms(ctx.client("target", "cloudwatch"), params)
        by_state: dict[str, list[dict[str, Any]]] = {}
        for alarm in alarms:
            by_state.setdefault(str(alarm.get("StateValue")), []).append(alarm)
        missing = [n for n in params.names if n not in {a["AlarmName"] for a in alarms}]
        evidence: dict[str, Any] = {
            "alarms": {
                a["AlarmName"]: {
                    "type": a["Type"],
                    "state": a.get("StateValue"),
                    "reason": a.get("StateReason"),
                }
                for a in alarms
            },
            "missing": missing,
            "names": list(params.names),
            "prefix": params.prefix,
        }
        details = [_line(a) for a in sorted(alarms, key=lambda a: str(a["AlarmName"]))]
        what = f"prefix {params.prefix!r}" if params.prefix is not None else "the named alarms"
        in_alarm = [str(a["AlarmName"]) for a in by_state.get("ALARM", [])]
        if missing:
            details.append(
                "composite alarms are returned only when cloudwatch:DescribeAlarms is allowed on *"
            )
        problems = []
        if in_alarm:
            problems.append(f"in ALARM: {', '.join(in_alarm)}")
        if missing:
            problems.append(f"not found in the target: {', '.join(missing)}")
        if problems:
            return CheckResult.failed("; ".join(problems), details, **evidence)
        if not alarms:
            return CheckResult.warned(
                f"no alarm in the target has a name starting with {params.prefix!r}: "
                "nothing watched",
                details,
                **evidence,
            )
        unsure = [str(a["AlarmName"]) for a in by_state.get("INSUFFICIENT_DATA", [])]
        if unsure:
            return CheckResult.warned(
                f"INSUFFICIENT_DATA (cannot tell): {', '.join(unsure)}", details, **evidence
            )
        odd = [str(a["AlarmName"]) for a in alarms if a.get("StateValue") != "OK"]
        if odd:  # a state DescribeAlarms does not document
            return CheckResult.warned(f"state unknown: {', '.join(odd)}", details, **evidence)
        unchecked = [
            str(a["AlarmName"])
            for a in alarms
            if str(a.get("StateReason", "")).startswith(UNCHECKED)
        ]
        if unchecked:
            return CheckResult.warned(
                f"never evaluated since created: {', '.join(unchecked)}", details, **evidence
            )
        return CheckResult.passed(f"{len(alarms)} alarm(s) OK ({what})", details, **evidence)
