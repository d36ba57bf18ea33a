"""codestar.connections: every target connection is AVAILABLE, and pipelines use only those.

CodeStar Connections was renamed CodeConnections (March 2024). Both APIs stay
live and each keeps its own ARN prefix, so the target is asked through both and
the answers are merged. A connection created by API (CloudFormation included)
stays PENDING until someone completes the provider handshake in the console;
no API can do it, so the check names the console step.

No connection at all is nothing to judge, never a pass: it fails when the
runbook names pipelines (`pipelines`: they cannot source without one) or a
pipeline uses a connection, and warns otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

SERVICES = ("codestar-connections", "codeconnections")
CONSOLE_STEP = (
    "Developer Tools console > Settings > Connections > select {name!r} > "
    '"Update pending connection", then authorise it with the provider'
)


class ConnectionsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    required: tuple[str, ...] = Field(
        default=(),
        description=(
            "Connection names that must exist in the target and be AVAILABLE "
            "(e.g. the GitHub connection the pipelines are rebuilt on)."
        ),
    )
    pipelines: tuple[str, ...] = Field(
        default=(),
        description=(
            "Pipelines that source through a connection: each must exist in the target and "
            "use only AVAILABLE target-account connections."
        ),
    )


@dataclass
class Connection:
    name: str
    arn: str
    status: str
    provider: str
    services: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PipelineUse:
    pipeline: str
    stage: str
    action: str
    arn: str


def connection_key(arn: str) -> str:
    """One key per connection whichever service prefix its ARN is written with."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] in SERVICES:
        parts[2] = SERVICES[1]
    return ":".join(parts)


def arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def list_connections(client: Any) -> list[dict[str, Any]]:
    # Neither service has a botocore paginator for ListConnections.
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = client.list_connections(**kwargs)
        found.extend(page.get("Connections", []))
        token = page.get("NextToken")
        if not token:
            return found
        kwargs["NextToken"] = token


def pipeline_uses(client: Any) -> tuple[list[str], list[PipelineUse]]:
    """The target's pipelines, and every pipeline action configured with a ConnectionArn."""
    names = [
        p["name"]
        for page in client.get_paginator("list_pipelines").paginate()
        for p in page.get("pipelines", [])
    ]
    uses: list[PipelineUse] = []
    for name in names:
        pipeline = client.get_pipeline(name=name)["pipeline"]
        for stage in pipeline.get("stages", []):
            for action in stage.get("actions", []):
                arn = (action.get("configuration") or {}).get("ConnectionArn")
                if arn:
                    uses.append(PipelineUse(name, stage["name"], action["name"], arn))
    return names, uses


class ConnectionsCheck(Check[ConnectionsParams]):
    meta = CheckMeta(
        id="codestar.connections",
        title="CodeStar/CodeConnections connections are AVAILABLE in the target",
        account="target",
        blocking=True,
        severity="high",
        iam_actions=(
            "codestar-connections:ListConnections",
            "codeconnections:ListConnections",
            "codepipeline:ListPipelines",
            "codepipeline:GetPipeline",
        ),
        remediation=(
            "Connections do not transfer between accounts and one created by API stays PENDING: "
            "in the target's Developer Tools console open Settings > Connections, select each "
            'PENDING connection, choose "Update pending connection" and authorise the GitHub/'
            "Bitbucket app. Point every pipeline source action at a target-account connection."
        ),
    )
    params_model = ConnectionsParams

    def run(self, ctx: CheckContext, params: ConnectionsParams) -> CheckResult:
        if ctx.emulated:
            # moto implements neither connections API; a pass here would be invented.
            return CheckResult.skipped(
                "not checked: the embedded emulator has no CodeStar Connections/"
                "CodeConnections API",
                [
                    "moto implements neither codestar-connections nor codeconnections; "
                    "against real AWS this check lists every connection and the pipelines using it"
                ],
                emulated=True,
            )

        connections: dict[str, Connection] = {}
        for service in SERVICES:
            for item in list_connections(ctx.client("target", service)):
                key = connection_key(item["ConnectionArn"])
                conn = connections.get(key)
                if conn is None:
                    conn = connections[key] = Connection(
                        name=item.get("ConnectionName", "?"),
                        arn=item["ConnectionArn"],
                        status=item.get("ConnectionStatus", "UNKNOWN"),
                        provider=item.get("ProviderType", "?"),
                    )
                conn.services.append(service)

        pipeline_names, uses = pipeline_uses(ctx.client("target", "codepipeline"))
        pipeline_count = len(pipeline_names)
        source_id = ctx.runbook.accounts.source.account_id

        details: list[str] = []
        problems = 0
        for conn in sorted(connections.values(), key=lambda c: c.name):
            if conn.status == "AVAILABLE":
                details.append(f"{conn.name}: AVAILABLE ({conn.provider}, {conn.arn})")
                continue
            problems += 1
            if conn.status == "PENDING":
                details.append(
                    f"{conn.name}: PENDING ({conn.arn}); complete the handshake: "
                    + CONSOLE_STEP.format(name=conn.name)
                )
            else:
                details.append(
                    f"{conn.name}: {conn.status} ({conn.arn}); open it in the Developer Tools "
                    "console (Settings > Connections) to see why, re-create it if needed"
                )

        names = {c.name for c in connections.values()}
        for name in params.required:
            if name not in names:
                problems += 1
                details.append(f"{name}: required connection does not exist in the target")

        bad_pipelines: set[str] = set()
        for use in uses:
            conn = connections.get(connection_key(use.arn))
            where = f"pipeline {use.pipeline} (stage {use.stage}, action {use.action})"
            if conn is None:
                owner = arn_account(use.arn)
                whose = (
                    f"the SOURCE account {owner}'s connection"
                    if owner == source_id
                    else "a connection not in the target"
                )
                details.append(f"{where} uses {whose}: {use.arn}")
            elif conn.status != "AVAILABLE":
                details.append(f"{where} uses {conn.status} connection {conn.name} ({conn.arn})")
            else:
                continue
            bad_pipelines.add(use.pipeline)

        # The runbook's pipelines: each must exist and source through a connection.
        missing_pipelines = sorted(set(params.pipelines) - set(pipeline_names))
        using = {u.pipeline for u in uses}
        no_source = sorted(set(params.pipelines) & set(pipeline_names) - using)
        for name in missing_pipelines:
            details.append(f"pipeline {name}: does not exist in the target")
        for name in no_source:
            details.append(f"pipeline {name}: no source action uses a connection")

        evidence: dict[str, Any] = {
            "connections": [
                {
                    "name": c.name,
                    "arn": c.arn,
                    "status": c.status,
                    "provider": c.provider,
                    "services": c.services,
                }
                for c in connections.values()
            ],
            "pipelines_scanned": pipeline_count,
            "pipelines_named": list(params.pipelines),
            "pipeline_connections": [
                {"pipeline": u.pipeline, "stage": u.stage, "action": u.action, "arn": u.arn}
                for u in uses
            ],
        }
        if not connections and not (params.pipelines or uses or params.required):
            details.append(
                "name the pipelines that source from GitHub/Bitbucket/GitLab in this check's "
                "`pipelines` parameter so their connections are judged"
            )
            return CheckResult.warned(
                f"no connections in the target and no pipeline uses one ({pipeline_count} "
                "pipelines scanned): nothing to judge",
                details,
                **evidence,
            )
        if problems or bad_pipelines or missing_pipelines or no_source:
            not_ready = sorted(c.name for c in connections.values() if c.status != "AVAILABLE")
            parts = []
            if not connections:
                stuck = sorted(set(params.pipelines) | using)
                parts.append(
                    "no connections in the target"
                    + (f": pipelines {', '.join(stuck)} cannot source" if stuck else "")
                )
            if not_ready:
                parts.append(f"not AVAILABLE: {', '.join(not_ready)}")
            missing = [n for n in params.required if n not in names]
            if missing:
                parts.append(f"missing: {', '.join(missing)}")
            if bad_pipelines:
                parts.append(f"pipelines affected: {', '.join(sorted(bad_pipelines))}")
            if missing_pipelines:
                parts.append(f"missing pipelines: {', '.join(missing_pipelines)}")
            if no_source:
                parts.append(f"no connection source: {', '.join(no_source)}")
            return CheckResult.failed("; ".join(parts), details, **evidence)
        return CheckResult.passed(
            f"{len(connections)} connections AVAILABLE; {len(uses)} pipeline actions "
            f"in {pipeline_count} pipelines use them",
            details,
            **evidence,
        )
