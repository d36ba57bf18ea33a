"""The migration trigger's IAM and wiring in moto: role policy, source trust, simulator.

A helper module, not a test module. `seed_trigger_iam` gives the cognito world
(tests/checks/cognito/conftest.py) what the playbook sets up: the function role
may assume the source role, which trusts it with the external ID. moto has no
iam:SimulatePrincipalPolicy, so `Simulator` answers that one operation on the
check's own target IAM client, with a result validated against the service
model, and records what it was asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from runbook.checkapi import CheckContext
from tests.support.cognitoworld import ACCESS_ROLE, EXTERNAL_ID, World

ASSUME_POLICY = "assume-source-role"
FUNCTION_ROLE = "usermigration-role"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_statement(resource: str = ACCESS_ROLE, effect: str = "Allow") -> dict[str, Any]:
    return {"Effect": effect, "Action": "sts:AssumeRole", "Resource": resource}


def trust_statement(principal: str, external_id: str | None = EXTERNAL_ID) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return statement


def seed_trigger_iam(target_iam: Any, source_iam: Any, function_role_arn: str) -> None:
    """The playbook's chain: the function role may assume the source role, which trusts it."""
    target_iam.put_role_policy(
        RoleName=FUNCTION_ROLE,
        PolicyName=ASSUME_POLICY,
        PolicyDocument=document(assume_statement()),
    )
    source_iam.create_role(
        RoleName=ACCESS_ROLE.rsplit("/", 1)[-1],
        AssumeRolePolicyDocument=document(trust_statement(function_role_arn)),
    )


@dataclass
class Simulator:
    """Answers iam:SimulatePrincipalPolicy on one client; a test sets `result` or `error`."""

    client: Any
    result: dict[str, Any]
    error: str | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)
    """The form of each request: PolicySourceArn, ActionNames.member.1, ..."""

    def answer(self, params: dict[str, Any], **_kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.asked.append(dict(params["body"]))  # the query-protocol form fields
        if self.error is not None:
            raise ClientError(
                {"Error": {"Code": self.error, "Message": "not authorized"}},
                "SimulatePrincipalPolicy",
            )
        model = self.client.meta.service_model.operation_model("SimulatePrincipalPolicy")
        parsed: dict[str, Any] = {"EvaluationResults": [self.result], "IsTruncated": False}
        validate_parameters(parsed, model.output_shape)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": {}}
        return AWSResponse(None, 200, {}, None), parsed


_SIMULATORS: dict[int, Simulator] = {}


def allowed_result(resource: str = ACCESS_ROLE) -> dict[str, Any]:
    """What the simulator reports when the inline policy allows and no SCP denies."""
    return {
        "EvalActionName": "sts:AssumeRole",
        "EvalResourceName": resource,
        "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": ASSUME_POLICY, "SourcePolicyType": "IAM Policy"}],
        "MissingContextValues": [],
        "OrganizationsDecisionDetail": {"AllowedByOrganizations": True},
    }


def answer_simulation(ctx: CheckContext) -> Simulator:
    client = ctx.client("target", "iam")
    simulator = Simulator(client, allowed_result())
    client.meta.events.register("before-call.iam.SimulatePrincipalPolicy", simulator.answer)
    _SIMULATORS[id(ctx)] = simulator
    return simulator


def simulator(
    world: World, result: dict[str, Any] | None = None, error: str | None = None
) -> Simulator:
    """The world's simulator, answering `result` (or failing with `error`) for this test."""
    sim = _SIMULATORS[id(world.ctx)]
    sim.asked.clear()
    if result is not None:
        sim.result = result
    sim.error = error
    world.undo.append(lambda: _reset(sim))
    return sim


def _reset(sim: Simulator) -> None:
    sim.result, sim.error = allowed_result(), None
    sim.asked.clear()


def change(world: World, do: Callable[[], Any], undo: Callable[[], Any]) -> None:
    """Apply a change to the world and undo it when the test ends."""
    do()
    world.undo.append(undo)
