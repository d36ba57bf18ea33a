"""The UserMigration Lambda's test world: two moto pools, its events, its users.

A helper module, not a test module: the fixtures are in conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from runbook.aws.session import build_session
from runbook.model import Runbook
from tests.support.runbooks import REGION, SOURCE, base_runbook

CANARY = "Canary-Pa55word!x7Q"  # must never appear in any log
ACCESS_ROLE = f"arn:aws:iam::{SOURCE}:role/cognito-access-role"
EXTERNAL_ID = "externalcognito"
SOURCE_FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


@dataclass
class World:
    """The two pools, built once per module; each test's users carry its own prefix."""

    source: Any  # unguarded clients, to build things and look at them
    target: Any
    source_pool: str
    source_client: str
    target_pool: str
    prefix: str = ""

    def u(self, name: str) -> str:
        return f"{self.prefix}{name}"


def attrs(**values: str) -> list[dict[str, str]]:
    return [{"Name": k.replace("__", ":"), "Value": v} for k, v in values.items()]


def as_dict(attributes: list[dict[str, str]]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in attributes}


def add_confirmed(world: World, name: str, **values: str) -> None:
    username = world.u(name)
    world.source.admin_create_user(
        UserPoolId=world.source_pool,
        Username=username,
        UserAttributes=attrs(**values),
        MessageAction="SUPPRESS",
    )
    world.source.admin_set_user_password(
        UserPoolId=world.source_pool, Username=username, Password=CANARY, Permanent=True
    )


def sign_in(world: World, name: str) -> dict[str, Any]:
    result: dict[str, Any] = world.source.admin_initiate_auth(
        UserPoolId=world.source_pool,
        ClientId=world.source_client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": world.u(name), "PASSWORD": CANARY},
    )
    return result


def build_world() -> World:
    accounts = Runbook.model_validate(base_runbook()).accounts
    source_session = build_session(accounts.source, read_only=False)
    source = source_session.client("cognito-idp")
    source_pool = source.create_user_pool(
        PoolName="prod-users",
        Schema=[
            {"Name": "tier", "AttributeDataType": "String", "Mutable": True},
            {"Name": "legacy", "AttributeDataType": "String", "Mutable": True},
        ],
        MfaConfiguration="OPTIONAL",
    )["UserPool"]["Id"]
    source_client = source.create_user_pool_client(
        UserPoolId=source_pool, ClientName="migration", ExplicitAuthFlows=SOURCE_FLOWS
    )["UserPoolClient"]["ClientId"]
    source.create_group(UserPoolId=source_pool, GroupName="admins")
    source.create_group(UserPoolId=source_pool, GroupName="staff")

    target = build_session(accounts.target, read_only=False).client("cognito-idp")
    # The target has no custom:legacy: the Lambda must not send it.
    target_pool = target.create_user_pool(
        PoolName="new-users",
        Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    target.create_group(UserPoolId=target_pool, GroupName="admins")
    target.create_group(UserPoolId=target_pool, GroupName="staff")

    source_session.client("iam").create_role(
        RoleName="cognito-access-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
                    }
                ],
            }
        ),
    )
    return World(source, target, source_pool, source_client, target_pool)


def migration_event(
    world: World, name: str, password: str | None = CANARY, *, forgot: bool = False
) -> dict[str, Any]:
    """What Cognito sends the Migrate user trigger."""
    request: dict[str, Any] = {"validationData": None, "clientMetadata": None}
    if not forgot:
        request["password"] = password
    return {
        "version": "1",
        "triggerSource": "UserMigration_ForgotPassword"
        if forgot
        else "UserMigration_Authentication",
        "region": REGION,
        "userPoolId": world.target_pool,
        "userName": world.u(name),
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "targetclient"},
        "request": request,
        "response": {
            "userAttributes": None,
            "forceAliasCreation": None,
            "enableSMSMFA": None,
            "finalUserStatus": None,
            "messageAction": None,
            "desiredDeliveryMediums": None,
        },
    }


def post_auth_event(world: World, name: str) -> dict[str, Any]:
    return {
        "version": "1",
        "triggerSource": "PostAuthentication_Authentication",
        "region": REGION,
        "userPoolId": world.target_pool,
        "userName": world.u(name),
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "targetclient"},
        "request": {"userAttributes": {}, "newDeviceUsed": False},
        "response": {},
    }


def create_as_cognito_would(world: World, event: dict[str, Any]) -> None:
    """moto never calls the trigger; do what Cognito does with its answer."""
    response = event["response"]
    world.target.admin_create_user(
        UserPoolId=world.target_pool,
        Username=event["userName"],
        UserAttributes=[{"Name": k, "Value": v} for k, v in response["userAttributes"].items()],
        MessageAction=response["messageAction"],
    )


def enable_totp(world: World, name: str) -> None:
    token = sign_in(world, name)["AuthenticationResult"]["AccessToken"]
    world.source.associate_software_token(AccessToken=token)
    world.source.verify_software_token(AccessToken=token, UserCode="123456")
    world.source.admin_set_user_mfa_preference(
        UserPoolId=world.source_pool,
        Username=world.u(name),
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )


class Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body
