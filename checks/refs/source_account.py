"""refs.source_account: nothing in the target still points at the source account.

ARNs and ECR image URIs carry the account ID, so a copied template, task
definition or environment variable keeps working against the source until the
source is switched off, and then fails in production. The account ID is
matched as a whole 12-digit token, wherever it appears in a value.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

Surface = Literal["lambda", "cloudformation", "ecs", "codebuild"]
ALL_SURFACES: tuple[Surface, ...] = ("lambda", "cloudformation", "ecs", "codebuild")

# Values under names like these are shown as hidden: they may be credentials.
_SECRETISH = re.compile(r"pass|secret|token|credential|private", re.IGNORECASE)
_CONTEXT = 40


class SourceRefsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    surfaces: tuple[Surface, ...] = Field(
        default=ALL_SURFACES,
        min_length=1,
        description="Where to look: lambda, cloudformation, ecs, codebuild (default: all).",
    )
    allow: tuple[str, ...] = Field(
        default=(),
        description=(
            "Deliberate references, as glob patterns over `service:resource:key` "
            "(e.g. `lambda:user-migration:SOURCE_ROLE_ARN` for the Cognito migration trigger)."
        ),
    )


@dataclass(frozen=True)
class Reference:
    service: str
    resource: str
    key: str
    excerpt: str
    ecr_image: bool

    @property
    def label(self) -> str:
        return f"{self.service}:{self.resource}:{self.key}"


class Finder:
    """Collects references to one account ID, with where each was found."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.pattern = re.compile(rf"(?<![0-9]){re.escape(account_id)}(?![0-9])")
        self.ecr = re.compile(rf"(?<![0-9]){re.escape(account_id)}\.dkr\.ecr\.")
        self.found: list[Reference] = []
        self.scanned: dict[str, int] = {}

    def scan(
        self, service: str, resource: str, key: str, value: Any, *, reference: bool = False
    ) -> None:
        """Record `value` if it names the account; `reference`: an ARN or name, never a secret."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # an account ID written as a JSON number in a template
        if not isinstance(value, str):
            return
        match = self.pattern.search(value)
        if match is None:
            return
        if not reference and _SECRETISH.search(key):
            excerpt = "(value hidden)"
        else:
            start, end = max(0, match.start() - _CONTEXT), match.end() + _CONTEXT
            excerpt = value[start:end]
            excerpt = ("..." if start else "") + excerpt + ("..." if end < len(value) else "")
        ecr = self.ecr.search(value) is not None
        self.found.append(Reference(service, resource, key, excerpt, ecr))

    def count(self, service: str) -> None:
        self.scanned[service] = self.scanned.get(service, 0) + 1


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf) for every leaf of a decoded JSON document; keys count too."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub + " (key)", key
            yield from walk(value, sub)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
    else:
        yield path, node


def scan_lambda(ctx: CheckContext, finder: Finder) -> None:
    client = ctx.client("target", "lambda")
    for page in client.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            name = fn["FunctionName"]
            finder.count("lambda")
            variables = (fn.get("Environment") or {}).get("Variables") or {}
            for var, value in variables.items():
                finder.scan("lambda", name, var, value)
            for layer in fn.get("Layers", []):
                finder.scan("lambda", name, "layer", layer.get("Arn"))
            finder.scan(
                "lambda",
                name,
                "dead-letter target",
                (fn.get("DeadLetterConfig") or {}).get("TargetArn"),
            )
            if fn.get("PackageType") == "Image":
                # The image URI is only in GetFunction, not in ListFunctions.
                code = client.get_function(FunctionName=name).get("Code") or {}
                finder.scan("lambda", name, "image", code.get("ImageUri"))


def scan_cloudformation(ctx: CheckContext, finder: Finder) -> None:
    client = ctx.client("target", "cloudformation")
    for page in client.get_paginator("describe_stacks").paginate():
        for stack in page.get("Stacks", []):
            name = stack["StackName"]
            finder.count("cloudformation")
            for param in stack.get("Parameters", []):
                finder.scan(
                    "cloudformation",
                    name,
                    f"parameter {param.get('ParameterKey')}",
                    param.get("ParameterValue"),
                )
            body = client.get_template(StackName=stack["StackId"], TemplateStage="Original").get(
                "TemplateBody"
            )
            # botocore decodes JSON templates into dicts; YAML ones stay text.
            if isinstance(body, str):
                for number, line in enumerate(body.splitlines(), start=1):
                    finder.scan("cloudformation", name, f"template line {number}", line)
            else:
                for path, leaf in walk(body):
                    finder.scan("cloudformation", name, f"template {path}", leaf)


def _task_definition_arns(client: Any) -> list[str]:
    """The latest ACTIVE revision of each family, plus every revision a service runs."""
    wanted: list[str] = []
    for page in client.get_paginator("list_task_definition_families").paginate(status="ACTIVE"):
        wanted.extend(page.get("families", []))
    clusters = [
        arn
        for page in client.get_paginator("list_clusters").paginate()
        for arn in page.get("clusterArns", [])
    ]
    for cluster in clusters:
        services = [
            arn
            for page in client.get_paginator("list_services").paginate(cluster=cluster)
            for arn in page.get("serviceArns", [])
        ]
        for start in range(0, len(services), 10):  # DescribeServices takes at most 10
            described = client.describe_services(
                cluster=cluster, services=services[start : start + 10]
            )
            wanted.extend(s["taskDefinition"] for s in described.get("services", []))
    return list(dict.fromkeys(wanted))


def scan_ecs(ctx: CheckContext, finder: Finder) -> None:
    client = ctx.client("target", "ecs")
    seen: set[str] = set()
    for ref in _task_definition_arns(client):
        td = client.describe_task_definition(taskDefinition=ref)["taskDefinition"]
        if td["taskDefinitionArn"] in seen:
            continue
        seen.add(td["taskDefinitionArn"])
        finder.count("ecs")
        resource = f"{td['family']}:{td['revision']}"
        finder.scan("ecs", resource, "taskRoleArn", td.get("taskRoleArn"))
        finder.scan("ecs", resource, "executionRoleArn", td.get("executionRoleArn"))
        for container in td.get("containerDefinitions", []):
            c = container.get("name", "?")
            finder.scan("ecs", resource, f"container {c} image", container.get("image"))
            for env in container.get("environment", []):
                finder.scan(
                    "ecs", resource, f"container {c} env {env.get('name')}", env.get("value")
                )
            for secret in container.get("secrets", []):
                finder.scan(
                    "ecs",
                    resource,
                    f"container {c} secret {secret.get('name')}",
                    secret.get("valueFrom"),
                    reference=True,
                )
            for env_file in container.get("environmentFiles", []):
                finder.scan(
                    "ecs", resource, f"container {c} environmentFile", env_file.get("value")
                )
            creds = (container.get("repositoryCredentials") or {}).get("credentialsParameter")
            finder.scan(
                "ecs", resource, f"container {c} repositoryCredentials", creds, reference=True
            )


def scan_codebuild(ctx: CheckContext, finder: Finder) -> None:
    client = ctx.client("target", "codebuild")
    names = [
        name
        for page in client.get_paginator("list_projects").paginate()
        for name in page.get("projects", [])
    ]
    for start in range(0, len(names), 100):  # BatchGetProjects takes at most 100
        for project in client.batch_get_projects(names=names[start : start + 100]).get(
            "projects", []
        ):
            name = project["name"]
            finder.count("codebuild")
            env = project.get("environment") or {}
            finder.scan("codebuild", name, "environment image", env.get("image"))
            finder.scan(
                "codebuild",
                name,
                "registry credential",
                (env.get("registryCredential") or {}).get("credential"),
                reference=True,
            )
            for var in env.get("environmentVariables", []):
                # PARAMETER_STORE / SECRETS_MANAGER values are names or ARNs, not the secret.
                finder.scan(
                    "codebuild",
                    name,
                    f"env {var.get('name')}",
                    var.get("value"),
                    reference=var.get("type") in ("PARAMETER_STORE", "SECRETS_MANAGER"),
                )


SCANNERS = {
    "lambda": scan_lambda,
    "cloudformation": scan_cloudformation,
    "ecs": scan_ecs,
    "codebuild": scan_codebuild,
}


class SourceAccountRefsCheck(Check[SourceRefsParams]):
    meta = CheckMeta(
        id="refs.source_account",
        title="No reference to the source account ID in the target",
        account="target",
        blocking=True,
        severity="high",
        iam_actions=(
            "lambda:ListFunctions",
            "lambda:GetFunction",
            "cloudformation:DescribeStacks",
            "cloudformation:GetTemplate",
            "ecs:ListTaskDefinitionFamilies",
            "ecs:ListClusters",
            "ecs:ListServices",
            "ecs:DescribeServices",
            "ecs:DescribeTaskDefinition",
            "codebuild:ListProjects",
            "codebuild:BatchGetProjects",
        ),
        remediation=(
            "Replace each listed value with the target account's resource (ARN, ECR image URI "
            "<target-id>.dkr.ecr..., secret or parameter) and redeploy; allow a reference in "
            "the check's `allow` only when it must stay (e.g. the Cognito migration trigger's "
            "cross-account role)."
        ),
    )
    params_model = SourceRefsParams

    def run(self, ctx: CheckContext, params: SourceRefsParams) -> CheckResult:
        source_id = ctx.runbook.accounts.source.account_id
        finder = Finder(source_id)
        for surface in dict.fromkeys(params.surfaces):
            SCANNERS[surface](ctx, finder)

        allowed = [
            r for r in finder.found if any(fnmatch.fnmatchcase(r.label, p) for p in params.allow)
        ]
        blocking = [r for r in finder.found if r not in allowed]
        details = [
            f"{r.service} {r.resource}: {r.key}"
            + (" (ECR image URI in the source registry)" if r.ecr_image else "")
            + f" = {r.excerpt}"
            for r in blocking
        ]
        details += [f"allowed by `allow`: {r.service} {r.resource}: {r.key}" for r in allowed]
        scanned = ", ".join(
            f"{s} {finder.scanned.get(s, 0)}" for s in dict.fromkeys(params.surfaces)
        )
        evidence: dict[str, Any] = {
            "source_account": source_id,
            "scanned": {s: finder.scanned.get(s, 0) for s in params.surfaces},
            "references": [asdict(r) for r in blocking],
            "allowed": [asdict(r) for r in allowed],
        }
        if blocking:
            resources = sorted({f"{r.service} {r.resource}" for r in blocking})
            return CheckResult.failed(
                f"{len(blocking)} references to source account {source_id} in "
                f"{len(resources)} resources: {', '.join(resources[:5])}"
                + (" ..." if len(resources) > 5 else ""),
                details,
                **evidence,
            )
        return CheckResult.passed(
            f"no reference to source account {source_id} (scanned {scanned})", details, **evidence
        )
