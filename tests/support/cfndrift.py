"""CloudFormation drift responses for botocore's Stubber, shaped as the service model says.

moto has no drift detection, and its `ListStackResources` carries no
`DriftInformation`: the drift tests stub the guarded source client with these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.stub import Stubber

from tests.support.runbooks import REGION, SOURCE

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = {"poll_delay_s": 0, "deadline_s": 60}


def stack_id(name: str) -> str:
    return (
        f"arn:aws:cloudformation:{REGION}:{SOURCE}:stack/{name}/0a1b2c3d-0000-4000-8000-{name:0>12}"
    )


def detection(name: str, state: str, drift: str | None = None, count: int = 0) -> dict[str, Any]:
    response: dict[str, Any] = {
        "StackId": stack_id(name),
        "StackDriftDetectionId": f"det-{name}",
        "DetectionStatus": state,
        "Timestamp": T0,
    }
    if drift is not None:
        response["StackDriftStatus"] = drift
        response["DriftedStackResourceCount"] = count
    return response


def expect_detect(stub: Stubber, name: str) -> None:
    stub.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": f"det-{name}"}, {"StackName": name}
    )


def expect_status(stub: Stubber, name: str, response: dict[str, Any]) -> None:
    stub.add_response(
        "describe_stack_drift_detection_status", response, {"StackDriftDetectionId": f"det-{name}"}
    )


def resource(
    logical: str, kind: str, drift: str | None, physical: str | None = None
) -> dict[str, Any]:
    """A `StackResourceSummary`; `drift=None` leaves out `DriftInformation` (it is optional)."""
    summary: dict[str, Any] = {
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "LastUpdatedTimestamp": T0,
        "ResourceStatus": "CREATE_COMPLETE",
    }
    if physical is not None:
        summary["PhysicalResourceId"] = physical
    if drift is not None:
        summary["DriftInformation"] = {"StackResourceDriftStatus": drift, "LastCheckTimestamp": T0}
    return summary


def expect_resources(stub: Stubber, stack: str, resources: list[dict[str, Any]]) -> None:
    stub.add_response(
        "list_stack_resources", {"StackResourceSummaries": resources}, {"StackName": stack}
    )


def in_sync(stack: str) -> list[dict[str, Any]]:
    """One checked resource, in sync: what a stack that truly is in sync lists."""
    return [resource("Param", "AWS::SSM::Parameter", "IN_SYNC", f"/{stack}/param")]
