"""dms.network_path: DMS can reach both endpoints, judged from the DMS side.

DMS's own "test connection" is the evidence: `DescribeConnections` gives, per
endpoint, `successful`, `testing`, `failed` or `deleting`. Both endpoints
`successful` passes; any `failed` fails with DMS's message. Where no test has run
(or one is still running), the path to the source is reasoned about
(`checks.dms.reach`): a PrivateLink interface endpoint in the DMS account must be
`available`; a public path needs a source security-group rule admitting DMS's
egress IPs (the replication instance's, or the NAT gateways' with
`nat_gateway_ids`/`nat_vpc_id`). A definite blocker fails; otherwise the result
warns, since only the test proves the path. The source is read-only: the result
says what the source's owner must allow, and never requires a change there.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from checks.dms.common import (
    DmsAccount,
    Missing,
    TaskRef,
    describe_endpoint,
    describe_instance,
    describe_task,
)
from checks.dms.reach import connection_tests, nat_ips, reason_source
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

NatGatewayId = Annotated[str, StringConstraints(pattern=r"^nat-[0-9a-f]{8,17}$")]
_TESTED = "successful"


class NetworkPathParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: TaskRef = Field(description="The replication task's identifier or ARN.")
    account: DmsAccount = Field(default="target", description="The account DMS runs in.")
    nat_gateway_ids: tuple[NatGatewayId, ...] = Field(
        default=(),
        description=(
            "DMS egresses through these NAT gateways (in the DMS account): their public IPs "
            "must be admitted instead of the replication instance's."
        ),
    )
    nat_vpc_id: str | None = Field(
        default=None,
        pattern=r"^vpc-[0-9a-f]{8,17}$",
        description="Or: every available NAT gateway in this VPC (in the DMS account).",
    )
    alias_for: str | None = Field(
        default=None,
        min_length=1,
        description="The RDS hostname the source endpoint's ServerName stands for, if an alias.",
    )

    @model_validator(mode="after")
    def _one_nat_source(self) -> NetworkPathParams:
        if self.nat_gateway_ids and self.nat_vpc_id is not None:
            raise ValueError("give nat_gateway_ids or nat_vpc_id, not both")
        return self


def _test_command(instance_arn: str, endpoint_arn: str) -> str:
    return (
        f"aws dms test-connection --replication-instance-arn {instance_arn} "
        f"--endpoint-arn {endpoint_arn}"
    )


class NetworkPathCheck(Check[NetworkPathParams]):
    meta = CheckMeta(
        id="dms.network_path",
        title="DMS reaches its source and target endpoints (test connection, else reasoned)",
        account="both",
        blocking=True,
        severity="high",
        iam_actions=(
            "dms:DescribeReplicationTasks",
            "dms:DescribeReplicationInstances",
            "dms:DescribeEndpoints",
            "dms:DescribeConnections",
            "ec2:DescribeNatGateways",
            "ec2:DescribeVpcEndpoints",
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusters",
            "ec2:DescribeSecurityGroups",
        ),
        remediation=(
            "Run DMS's test connection from the replication instance to each endpoint "
            "(aws dms test-connection, in the DMS account) and re-run the check. If the source "
            "cannot be reached, the source is read-only to this tool: ask its owners to allow "
            "inbound on the database port from DMS's egress addresses (the replication "
            "instance's public IP, the target's NAT gateways' public IPs, or, over PrivateLink, "
            "the endpoint service's load balancer) as narrowly as they can."
        ),
    )
    params_model = NetworkPathParams

    def run(self, ctx: CheckContext, params: NetworkPathParams) -> CheckResult:
        try:
            task = describe_task(ctx, params.account, params.task_id)
            instance_arn = str(task["ReplicationInstanceArn"])
            instance = describe_instance(ctx, params.account, instance_arn)
            endpoints = {
                "source": describe_endpoint(ctx, params.account, str(task["SourceEndpointArn"])),
                "target": describe_endpoint(ctx, params.account, str(task["TargetEndpointArn"])),
            }
        except Missing as exc:
            return CheckResult.failed(str(exc))

        tests, unreadable = connection_tests(ctx, params.account, instance_arn)
        statuses: dict[str, str] = {}
        failed: list[str] = []
        untested: list[str] = []
        details: list[str] = []
        for role, endpoint in endpoints.items():
            arn = str(endpoint["EndpointArn"])
            name = f"{role} endpoint {endpoint.get('EndpointIdentifier')}"
            conn = tests.get(arn) or {}
            status = str(conn.get("Status") or "not tested")
            statuses[arn] = status
            details.append(f"{name}: test connection {status}")
            if status == "failed":
                why = conn.get("LastFailureMessage") or "no message"
                failed.append(f"DMS's test connection to the {name} failed: {why}")
            elif status != _TESTED:
                untested.append(role)
                details.append(f"test it: {_test_command(instance_arn, arn)}")
        if unreadable:
            details.append(f"connection tests not read: {unreadable}")
        evidence: dict[str, Any] = {"replication_instance": instance_arn, "connections": statuses}

        if not failed and not untested:
            return CheckResult.passed(
                "DMS's test connection succeeded from "
                f"{instance.get('ReplicationInstanceIdentifier')} to both endpoints",
                details,
                **evidence,
            )

        reasoning = None
        if "source" in untested or any("source endpoint" in f for f in failed):
            egress, problems = self._egress(ctx, params, instance)
            if problems:
                failed.extend(problems)
            reasoning = reason_source(
                ctx, params.account, endpoints["source"], instance, egress, params.alias_for
            )
            details.extend(reasoning.notes)
            details.extend(reasoning.instructions)
            evidence.update(reasoning.evidence)
            evidence["instructions"] = reasoning.instructions
        if failed or (reasoning and reasoning.blockers):
            found = failed + (reasoning.blockers if reasoning else [])
            if reasoning and reasoning.instructions:
                found.append("; ".join(reasoning.instructions))
            details.extend(found)
            return CheckResult.failed("; ".join(found), details, **evidence)
        what = " and ".join(f"{role} endpoint" for role in untested)
        why = "still testing or not tested" if tests else "not tested"
        summary = f"DMS path to the {what} {why}: run DMS's test connection to prove it"
        if unreadable:
            summary += f" ({unreadable})"
        return CheckResult.warned(summary, details, **evidence)

    @staticmethod
    def _egress(
        ctx: CheckContext, params: NetworkPathParams, instance: dict[str, Any]
    ) -> tuple[tuple[str, list[str]] | None, list[str]]:
        """((kind, public IPs) DMS egresses from, or None if none; problems finding them)."""
        if params.nat_gateway_ids or params.nat_vpc_id:
            ips, problems = nat_ips(ctx, params.account, params.nat_gateway_ids, params.nat_vpc_id)
            return ("NAT gateway", ips), problems
        ips = [str(ip) for ip in instance.get("ReplicationInstancePublicIpAddresses") or []]
        single = instance.get("ReplicationInstancePublicIpAddress")
        if not ips and single:
            ips = [str(single)]
        return (("replication instance", ips) if ips else None), []
