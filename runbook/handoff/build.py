"""The handoff from the runbook and the latest evidence: every request, in order.

Before the cutover, requests follow the runbook's steps (the step whose check
verifies them); the cutover's and the rollback's come next; decommission undoes
what the migration added, in reverse, this tool's own read role last.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from runbook.files import AUDIT_FILE
from runbook.handoff.access import read_role_request, trigger_requests
from runbook.handoff.context import Context
from runbook.handoff.database import replica_requests, writes_requests
from runbook.handoff.evidence import read_evidence
from runbook.handoff.infra import bucket_requests, network_requests
from runbook.handoff.model import Command, Handoff, Request
from runbook.loader import LoadedRunbook
from runbook.registry import CheckRegistry


def build_handoff(
    loaded: LoadedRunbook,
    registry: CheckRegistry | None = None,
    audit_path: Path | None = None,
) -> Handoff:
    model = loaded.model
    audit = audit_path if audit_path is not None else loaded.state_dir / AUDIT_FILE
    wanted = [(s.id, ref.id) for s in model.steps for ref in s.checks]
    ctx = Context(model, loaded.params, read_evidence(audit, wanted))
    order = {step.id: index for index, step in enumerate(model.steps)}

    before = [
        *read_role_request(ctx, registry),
        *network_requests(ctx),
        *replica_requests(ctx),
        *bucket_requests(ctx),
        *trigger_requests(ctx),
    ]
    before.sort(key=lambda r: order.get(r.verify.step or "", len(order)))
    requests = [*before, *writes_requests(ctx), *decommission(ctx, before)]
    return Handoff(
        migration=model.migration.name,
        environment=model.migration.environment,
        runbook=str(loaded.path),
        source_account=ctx.source.account_id,
        source_region=ctx.source.region,
        target_account=ctx.target_id,
        audit_log=str(audit) if audit.exists() else None,
        requests=tuple(dataclasses.replace(r, status=ctx.status(r.verify)) for r in requests),
    )


def _undo(request: Request) -> tuple[tuple[Command, ...], str] | None:
    """The commands that remove what `request` added, and what the check then shows."""
    undo: list[Command] = []
    for command in request.commands:
        p, region = command.params, command.region
        if command.operation == "PutRolePolicy":
            undo.append(
                Command(
                    "iam",
                    "DeleteRolePolicy",
                    {"RoleName": p["RoleName"], "PolicyName": p["PolicyName"]},
                )
            )
            undo.append(Command("iam", "DeleteRole", {"RoleName": p["RoleName"]}))
        elif command.operation == "PutBucketReplication":
            undo.insert(
                0, Command("s3", "DeleteBucketReplication", {"Bucket": p["Bucket"]}, region)
            )
        elif command.operation == "CreateVpcEndpointServiceConfiguration":
            service = request.arn.rsplit("/", 1)[-1]
            undo.append(
                Command(
                    "ec2",
                    "DeleteVpcEndpointServiceConfigurations",
                    {"ServiceIds": [service]},
                    region,
                )
            )
        elif command.operation == "CreateRoute":
            undo.append(
                Command(
                    "ec2",
                    "DeleteRoute",
                    {
                        "RouteTableId": p["RouteTableId"],
                        "DestinationCidrBlock": p["DestinationCidrBlock"],
                    },
                    region,
                )
            )
        elif command.operation == "AuthorizeSecurityGroupIngress":
            undo.append(Command("ec2", "RevokeSecurityGroupIngress", dict(p), region))
        elif command.operation == "CreateDBInstanceReadReplica":
            replica = p["DBInstanceIdentifier"]
            undo.append(
                Command(
                    "rds",
                    "DeleteDBInstance",
                    {
                        "DBInstanceIdentifier": replica,
                        "FinalDBSnapshotIdentifier": f"{replica}-final"[:255],
                    },
                    region,
                )
            )
        elif command.operation == "AdminCreateUser":
            undo.append(
                Command(
                    "cognito-idp",
                    "AdminDeleteUser",
                    {"UserPoolId": p["UserPoolId"], "Username": p["Username"]},
                    region,
                )
            )
    if not undo:
        return None
    return tuple(undo), f"fail: {request.verify.check} no longer finds it"


def decommission(ctx: Context, before: list[Request]) -> list[Request]:
    step = ctx.decommission_step
    out: list[Request] = []
    for request in reversed(before):
        undone = _undo(request)
        if undone is None:
            continue
        commands, expect = undone
        checked_there = step is not None and any(c.id == request.verify.check for c in step.checks)
        verify = ctx.verify(
            request.verify.check, step.id if checked_there and step else request.verify.step, expect
        )
        out.append(
            Request(
                key=f"remove:{request.key}",
                phase="decommission",
                title=f"Remove: {request.title[0].lower()}{request.title[1:]}",
                arn=request.arn,
                reason=(
                    "the migration is finished and the rollback window closed: nothing the "
                    "migration added to the source stays behind"
                ),
                verify=verify,
                when_step=step.id if step is not None else None,
                commands=commands,
                console=request.console,
                notes=(
                    ("only if it was created for the migration",)
                    if request.key.startswith("replica:")
                    else ()
                ),
            )
        )
    # This tool's own read role goes last: every other removal is checked through it.
    out.sort(key=lambda r: r.key == "remove:read-role")
    return out
