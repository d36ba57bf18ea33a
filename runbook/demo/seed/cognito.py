"""Cognito: source and target pools, the UserMigration trigger, and part of the users moved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runbook.cognito.trigger.package import HANDLER, zip_bytes
from runbook.demo.model import DemoWorld
from runbook.demo.seed.iam import lambda_role_arn


def seed_cognito(world: DemoWorld, users: int, migrated_fraction: float) -> None:
    schema = [
        {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
        {"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True},
    ]
    source = world.client("source", "cognito-idp")
    world.source_pool_id = source.create_user_pool(
        PoolName="acme-prod-users",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=schema,
    )["UserPool"]["Id"]
    world.source_client_id = source.create_user_pool_client(
        UserPoolId=world.source_pool_id,
        ClientName="user-migration",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]

    lam = world.client("target", "lambda")
    world.trigger_function_arn = lam.create_function(
        FunctionName=world.trigger_function,
        Runtime="python3.12",
        Role=lambda_role_arn(world),
        # The real trigger, as `runbook lambda package` builds it (moto never runs it).
        Handler=HANDLER,
        Code={"ZipFile": zip_bytes()},
        Timeout=5,  # Cognito waits 5 s for the trigger, no longer
        Environment={
            "Variables": {
                "OLD_USER_POOL_ID": world.source_pool_id,
                "OLD_CLIENT_ID": world.source_client_id,
                "OLD_ROLE_ARN": world.cognito_role_arn,
                "OLD_EXTERNAL_ID": world.external_id,
                "OLD_USER_POOL_REGION": world.region,
            }
        },
    )["FunctionArn"]

    # Resets at force-migration send a code each: through SES, as the runbook asks,
    # since Cognito's default sender delivers 50 a day.
    sender = "no-reply@example.com"
    world.client("target", "ses").verify_email_identity(EmailAddress=sender)
    target = world.client("target", "cognito-idp")
    target_pool = target.create_user_pool(
        PoolName="acme-prod-users-v2",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=schema,
        EmailConfiguration={
            "EmailSendingAccount": "DEVELOPER",
            "SourceArn": f"arn:aws:ses:{world.region}:{world.target_account}:identity/{sender}",
        },
        # The same function copies groups at the first sign-in after the move.
        LambdaConfig={
            "UserMigration": world.trigger_function_arn,
            "PostAuthentication": world.trigger_function_arn,
        },
    )["UserPool"]
    world.target_pool_id = target_pool["Id"]
    lam.add_permission(
        FunctionName=world.trigger_function,
        StatementId="cognito-user-migration",
        Action="lambda:InvokeFunction",
        Principal="cognito-idp.amazonaws.com",
        SourceArn=target_pool["Arn"],
    )
    world.target_client_id = target.create_user_pool_client(
        UserPoolId=world.target_pool_id,
        ClientName="acme-web",
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
    )["UserPoolClient"]["ClientId"]

    people = [person(i) for i in range(users)]
    migrated = people[: int(users * migrated_fraction)]
    # moto answers each call in a few milliseconds; a few threads keep seeding short.
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-seed") as pool:
        list(pool.map(lambda p: create_user(source, world.source_pool_id, p), people))
        list(pool.map(lambda p: create_user(target, world.target_pool_id, p), migrated))
    world.users_total = len(people)
    world.users_migrated = len(migrated)


def person(index: int) -> dict[str, str]:
    """The attributes of the demo's `index`-th user."""
    attributes = {
        "email": f"user{index:04d}@example.com",
        "custom:tenant_id": f"tenant-{index % 17:02d}",
    }
    if index % 25 == 0:
        attributes["phone_number"] = f"+44770090{index:04d}"
    return attributes


def create_user(client: Any, pool_id: str, attributes: dict[str, str]) -> None:
    """Create a verified user with these attributes (signed in by email), no message sent."""
    user_attributes = [{"Name": k, "Value": v} for k, v in attributes.items()]
    user_attributes.append({"Name": "email_verified", "Value": "true"})
    client.admin_create_user(
        UserPoolId=pool_id,
        Username=attributes["email"],
        UserAttributes=user_attributes,
        MessageAction="SUPPRESS",
    )
