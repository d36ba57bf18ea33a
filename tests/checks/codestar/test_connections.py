"""codestar.connections against moto pipelines in the target.

moto has no CodeStar Connections/CodeConnections, so those two clients are
stubbed with botocore's Stubber (real response shapes); pipelines are real moto
resources.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.stub import Stubber

from runbook.checkapi import CheckContext, Status
from tests.support.checks import result_text as text
from tests.support.checks import run_check as run
from tests.support.checks import service_role
from tests.support.runbooks import REGION, SOURCE, TARGET

CS = f"arn:aws:codestar-connections:{REGION}"
CC = f"arn:aws:codeconnections:{REGION}"
CS_AVAILABLE = f"{CS}:{TARGET}:connection/aaaa1111-0000-4000-8000-000000000001"
CS_PENDING = f"{CS}:{TARGET}:connection/bbbb2222-0000-4000-8000-000000000002"
CC_AVAILABLE = f"{CC}:{TARGET}:connection/cccc3333-0000-4000-8000-000000000003"
SOURCE_CONN = f"{CS}:{SOURCE}:connection/dddd4444-0000-4000-8000-000000000004"


def conn(name: str, arn: str, status: str, provider: str = "GitHub") -> dict[str, Any]:
    return {
        "ConnectionName": name,
        "ConnectionArn": arn,
        "ProviderType": provider,
        "OwnerAccountId": TARGET,
        "ConnectionStatus": status,
    }


def make_pipeline(admin: Any, role: str, name: str, connection_arn: str) -> None:
    admin("target").client("codepipeline").create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role,
            "artifactStore": {"type": "S3", "location": "artifacts-bucket"},
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "GitHub",
                            "actionTypeId": {
                                "category": "Source",
                                "owner": "AWS",
                                "provider": "CodeStarSourceConnection",
                                "version": "1",
                            },
                            "configuration": {
                                "ConnectionArn": connection_arn,
                                "FullRepositoryId": f"acme/{name}",
                                "BranchName": "main",
                            },
                            "outputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        {
                            "name": "Build",
                            "actionTypeId": {
                                "category": "Build",
                                "owner": "AWS",
                                "provider": "CodeBuild",
                                "version": "1",
                            },
                            "configuration": {"ProjectName": f"{name}-build"},
                            "inputArtifacts": [{"name": "src"}],
                        }
                    ],
                },
            ],
        }
    )


@pytest.fixture
def pipelines(admin: Any, check_context: CheckContext) -> None:
    role = service_role(admin, "codepipeline")
    make_pipeline(admin, role, "web", CS_PENDING)
    make_pipeline(admin, role, "api", CC_AVAILABLE)


def stub_connections(
    ctx: CheckContext, codestar: list[list[dict[str, Any]]], codeconn: list[list[dict[str, Any]]]
) -> tuple[Stubber, Stubber]:
    """Pages of ListConnections for each service; pages after the first follow a NextToken."""
    stubbers = []
    for service, pages in (("codestar-connections", codestar), ("codeconnections", codeconn)):
        stubber = Stubber(ctx.client("target", service))
        for index, page in enumerate(pages):
            response: dict[str, Any] = {"Connections": page}
            if index < len(pages) - 1:
                response["NextToken"] = f"token-{index + 1}"
            expected = {"NextToken": f"token-{index}"} if index else {}
            stubber.add_response("list_connections", response, expected)
        stubber.activate()
        stubbers.append(stubber)
    return stubbers[0], stubbers[1]


def test_connections_pending_fails_naming_it_the_console_step_and_the_pipeline(
    check_context: CheckContext, pipelines: None
) -> None:
    # The same connection comes back from both APIs, once under each service prefix:
    # it must be counted once.
    cs, cc = stub_connections(
        check_context,
        [
            [conn("github-main", CS_AVAILABLE, "AVAILABLE")],
            [conn("github-web", CS_PENDING, "PENDING")],
        ],
        [
            [
                conn("github-main", CS_AVAILABLE.replace(CS, CC), "AVAILABLE"),
                conn("bitbucket", CC_AVAILABLE, "AVAILABLE", "Bitbucket"),
            ]
        ],
    )
    result = run(check_context, "codestar.connections")
    cs.assert_no_pending_responses()
    cc.assert_no_pending_responses()

    assert result.status == Status.FAIL, result
    assert "github-web" in result.summary
    assert "web" in result.summary.split("pipelines affected:")[1]
    assert "api" not in result.summary.split("pipelines affected:")[1]
    body = text(result)
    assert "Update pending connection" in body
    assert "Settings > Connections" in body
    assert "pipeline web (stage Source, action GitHub) uses PENDING connection github-web" in body
    assert len(result.evidence["connections"]) == 3
    by_name = {c["name"]: c for c in result.evidence["connections"]}
    assert by_name["github-main"]["services"] == ["codestar-connections", "codeconnections"]


def test_connections_all_available_pass(check_context: CheckContext, pipelines: None) -> None:
    stub_connections(
        check_context,
        [
            [
                conn("github-main", CS_AVAILABLE, "AVAILABLE"),
                conn("github-web", CS_PENDING, "AVAILABLE"),
            ]
        ],
        [[conn("bitbucket", CC_AVAILABLE, "AVAILABLE", "Bitbucket")]],
    )
    result = run(check_context, "codestar.connections", {"required": ["github-web"]})
    assert result.status == Status.PASS, result
    assert "3 connections AVAILABLE" in result.summary
    assert "2 pipeline actions in 2 pipelines" in result.summary


def test_connections_pipeline_on_the_source_accounts_connection_fails(
    admin: Any, check_context: CheckContext
) -> None:
    make_pipeline(admin, service_role(admin, "codepipeline"), "legacy", SOURCE_CONN)
    stub_connections(check_context, [[conn("github-main", CS_AVAILABLE, "AVAILABLE")]], [[]])
    result = run(check_context, "codestar.connections")
    assert result.status == Status.FAIL, result
    assert "legacy" in result.summary
    assert f"uses the SOURCE account {SOURCE}'s connection: {SOURCE_CONN}" in text(result)


def test_connections_required_but_missing_fails(check_context: CheckContext) -> None:
    stub_connections(check_context, [[conn("github-main", CS_AVAILABLE, "AVAILABLE")]], [[]])
    result = run(check_context, "codestar.connections", {"required": ["github-main", "gitlab"]})
    assert result.status == Status.FAIL, result
    assert "missing: gitlab" in result.summary


def test_connections_skipped_in_the_emulator_without_calling_aws(
    check_context: CheckContext,
) -> None:
    # Activated stubbers with no responses: any call would raise.
    stub_connections(check_context, [], [])
    ctx = dataclasses.replace(check_context, emulated=True)
    result = run(ctx, "codestar.connections")
    assert result.status == Status.SKIPPED, result
    assert "emulator" in result.summary


# --- nothing to judge is never a pass --------------------------------------------------


def test_no_connections_and_no_pipelines_warns_that_nothing_was_judged(
    check_context: CheckContext,
) -> None:
    stub_connections(check_context, [[]], [[]])
    result = run(check_context, "codestar.connections")
    assert result.status == Status.WARN, result
    assert result.summary.startswith("no connections in the target and no pipeline uses one")
    assert "nothing to judge" in result.summary
    assert "pipelines" in text(result)  # says which parameter names them


def test_no_connections_while_the_runbook_names_pipelines_fails(
    admin: Any, check_context: CheckContext
) -> None:
    stub_connections(check_context, [[]], [[]])
    result = run(check_context, "codestar.connections", {"pipelines": ["web", "api"]})
    assert result.status == Status.FAIL, result
    assert result.summary == (
        "no connections in the target: pipelines api, web cannot source; "
        "missing pipelines: api, web"
    )
    body = text(result)
    assert "pipeline web: does not exist in the target" in body


def test_a_named_pipeline_must_source_through_an_available_target_connection(
    admin: Any, check_context: CheckContext
) -> None:
    role = service_role(admin, "codepipeline")
    make_pipeline(admin, role, "api", CC_AVAILABLE)
    make_pipeline(admin, role, "web", CC_AVAILABLE)
    available = [conn("bitbucket", CC_AVAILABLE, "AVAILABLE", "Bitbucket")]
    first = stub_connections(check_context, [[]], [available])
    result = run(check_context, "codestar.connections", {"pipelines": ["api"]})
    assert result.status == Status.PASS, result
    assert result.evidence["pipelines_named"] == ["api"]
    for stubber in first:
        stubber.deactivate()

    # A named pipeline with no connection source action cannot be judged here: it fails.
    pipeline = admin("target").client("codepipeline").get_pipeline(name="web")["pipeline"]
    source = pipeline["stages"][0]["actions"][0]
    source["actionTypeId"]["provider"] = "S3"
    source["configuration"] = {"S3Bucket": "artifacts-bucket", "S3ObjectKey": "web.zip"}
    admin("target").client("codepipeline").update_pipeline(pipeline=pipeline)
    stub_connections(check_context, [[]], [available])
    result = run(check_context, "codestar.connections", {"pipelines": ["api", "web"]})
    assert result.status == Status.FAIL, result
    assert "web" in result.summary and "no connection source" in result.summary
    assert "pipeline web: no source action uses a connection" in text(result)
