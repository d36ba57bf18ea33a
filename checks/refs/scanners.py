"""Where `refs.source_account` looks in code and configuration: one function per surface.

Not a check. Every call reads the target; an access denial on one resource is
recorded by `Finder.reading` and the scan goes on.
"""

from __future__ import annotations

from typing import Any

from checks.refs.finder import SECRETISH, Finder, walk
from runbook.checkapi import CheckContext


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
                with finder.reading("lambda", name):
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
            with finder.reading("cloudformation", name):
                body = client.get_template(
                    StackName=stack["StackId"], TemplateStage="Original"
                ).get("TemplateBody")
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


def scan_ssm(ctx: CheckContext, finder: Finder) -> None:
    """Parameter Store: metadata of every parameter, values of String/StringList only.

    SecureString values are never fetched (not even encrypted): they are secrets,
    and are counted as not read. Their KMS key, a reference, is scanned.
    """
    client = ctx.client("target", "ssm")
    readable: list[str] = []
    # DescribeParameters returns at most 50 per page.
    pages = client.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 50})
    for page in pages:
        for param in page.get("Parameters", []):
            name = param["Name"]
            finder.count("ssm")
            finder.scan("ssm", name, "KeyId", param.get("KeyId"), reference=True)
            finder.scan("ssm", name, "description", param.get("Description"), excerpt="token")
            if param.get("Type") == "SecureString":
                finder.secure_strings.append(name)
            else:
                readable.append(name)
    for start in range(0, len(readable), 10):  # GetParameters takes at most 10 names
        batch = readable[start : start + 10]
        with finder.reading("ssm", ", ".join(batch)):
            answer = client.get_parameters(Names=batch, WithDecryption=False)
            for param in answer.get("Parameters", []):
                if param.get("Type") == "SecureString":
                    continue  # changed type since it was listed: still never shown
                name = param["Name"]
                # Only the ARN- or URL-like token around the ID is shown, never the value.
                finder.scan(
                    "ssm",
                    name,
                    "value",
                    param.get("Value"),
                    excerpt="token",
                    secret=bool(SECRETISH.search(name)),
                )


def scan_stepfunctions(ctx: CheckContext, finder: Finder) -> None:
    client = ctx.client("target", "stepfunctions")
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page.get("stateMachines", []):
            name = machine["name"]
            with finder.reading("stepfunctions", name):
                described = client.describe_state_machine(
                    stateMachineArn=machine["stateMachineArn"]
                )
                finder.count("stepfunctions")
                finder.scan("stepfunctions", name, "roleArn", described.get("roleArn"))
                finder.scan_document(
                    "stepfunctions", name, "definition", described.get("definition")
                )
                logging = described.get("loggingConfiguration") or {}
                for index, destination in enumerate(logging.get("destinations", [])):
                    group = (destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
                    finder.scan("stepfunctions", name, f"log destination {index}", group)
                encryption = described.get("encryptionConfiguration") or {}
                finder.scan("stepfunctions", name, "kmsKeyId", encryption.get("kmsKeyId"))


def _event_buses(client: Any) -> list[dict[str, Any]]:
    """Every event bus; ListEventBuses has no botocore paginator, so follow NextToken."""
    buses: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = client.list_event_buses(**({"NextToken": token} if token else {}))
        buses.extend(page.get("EventBuses", []))
        token = page.get("NextToken")
        if not token:
            return buses


def scan_events(ctx: CheckContext, finder: Finder) -> None:
    """EventBridge: each bus's policy, DLQ and key; each rule's role and targets."""
    client = ctx.client("target", "events")
    for bus in _event_buses(client):
        name = bus["Name"]
        with finder.reading("events", name):
            described = client.describe_event_bus(Name=name)
            finder.count("events")
            if described.get("Policy"):
                finder.scan_document("events", name, "policy", described["Policy"])
            dlq = (described.get("DeadLetterConfig") or {}).get("Arn")
            finder.scan("events", name, "dead-letter queue", dlq)
            finder.scan("events", name, "KmsKeyIdentifier", described.get("KmsKeyIdentifier"))
        for page in client.get_paginator("list_rules").paginate(EventBusName=name):
            for rule in page.get("Rules", []):
                label = f"{name}/{rule['Name']}"
                finder.count("events")
                finder.scan("events", label, "RoleArn", rule.get("RoleArn"))
                with finder.reading("events", label):
                    targets = client.get_paginator("list_targets_by_rule").paginate(
                        Rule=rule["Name"], EventBusName=name
                    )
                    for target_page in targets:
                        for target in target_page.get("Targets", []):
                            tid = target.get("Id", "?")
                            # Inputs and HTTP parameters may hold anything: tokens only.
                            for path, leaf in walk(target):
                                finder.scan(
                                    "events", label, f"target {tid} {path}", leaf, excerpt="token"
                                )
