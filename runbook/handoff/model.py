"""A request to the source owner, and the AWS CLI call it asks for.

A command is kept as the API call it stands for (service, operation,
parameters), so a test can validate it against botocore's service model, and is
shown as the AWS CLI line that sends it: member names in kebab case, booleans as
`--flag`/`--no-flag`, lists of scalars space-separated, structures as JSON, and
long documents as `file://NAME.json` with the file's content shown beside it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore import xform_name

Phase = Literal["before", "cutover", "rollback", "decommission"]
PHASES: dict[Phase, str] = {
    "before": "Before the cutover",
    "cutover": "At the cutover",
    "rollback": "After a rollback",
    "decommission": "At decommission",
}
CLI_SERVICE = {"s3": "s3api"}  # botocore service name -> AWS CLI command, where they differ
INLINE_LIMIT = 72  # longer JSON values go to a file


def _json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, separators=None if indent else (",", ":"))


@dataclass(frozen=True)
class Command:
    """One AWS API call, run by the source owner in the source account."""

    service: str  # botocore's name: rds, s3, s3control, iam, ec2, cognito-idp
    operation: str  # the API's name: ModifyDBInstance
    params: dict[str, Any]
    region: str | None = None  # None: a global service (IAM)
    files: dict[str, str] = field(default_factory=dict)  # param -> file name for its document

    def _value(self, name: str, value: Any) -> str:
        if name in self.files:
            return f"file://{self.files[name]}"
        if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
            return shlex.quote(value)  # a JSON document passed as a string (IAM)
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return " ".join(shlex.quote(str(v)) for v in value)
        if isinstance(value, dict | list):
            return shlex.quote(_json(value))
        return shlex.quote(str(value))

    def cli(self) -> str:
        """The AWS CLI line, one option per line."""
        parts = [
            f"aws {CLI_SERVICE.get(self.service, self.service)} {xform_name(self.operation, '-')}"
        ]
        for name, value in self.params.items():
            option = xform_name(name, "-")
            if isinstance(value, bool):
                parts.append(f"--{option}" if value else f"--no-{option}")
            else:
                parts.append(f"--{option} {self._value(name, value)}")
        if self.region:
            parts.append(f"--region {self.region}")
        return " \\\n  ".join(parts)

    def documents(self) -> list[tuple[str, str]]:
        """(file name, pretty JSON) for every parameter passed as a file."""
        out = []
        for name, file_name in self.files.items():
            value = self.params[name]
            parsed = json.loads(value) if isinstance(value, str) else value
            out.append((file_name, _json(parsed, indent=2)))
        return out


@dataclass(frozen=True)
class Verification:
    """How the tool verifies a request: a check, at a step of the runbook."""

    check: str
    step: str | None  # None: the runbook has no step with this check
    expect: str = "pass"  # what the check shows once the change is made


@dataclass(frozen=True)
class Status:
    """The verifying check's latest result in the audit log."""

    status: str
    time: str
    summary: str


@dataclass(frozen=True)
class Request:
    """One change the source owner makes, and why, and how we will know."""

    key: str  # stable id, e.g. `s3-replication:acme-prod-uploads`
    phase: Phase
    title: str
    arn: str  # real when the runbook or the evidence names it, else `<placeholder>`s
    reason: str
    verify: Verification
    when_step: str | None = None  # the runbook step at which it is made
    commands: tuple[Command, ...] = ()
    sql: tuple[str, ...] = ()  # statements the DBA runs (grants are no AWS call)
    console: str = ""
    notes: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()  # what the latest check results say about it
    status: Status | None = None

    @property
    def placeholder(self) -> bool:
        """The ARN still holds a `<...>` for the owner (or the evidence) to fill in."""
        return "<" in self.arn


@dataclass(frozen=True)
class Handoff:
    """The whole list, in the order the owner works through it."""

    migration: str
    environment: str
    runbook: str
    source_account: str
    source_region: str
    target_account: str
    audit_log: str | None  # where the evidence came from; None: no run yet
    requests: tuple[Request, ...]

    def in_phase(self, phase: Phase) -> list[Request]:
        return [r for r in self.requests if r.phase == phase]
