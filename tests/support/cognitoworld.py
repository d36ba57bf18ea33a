"""The playbook's Cognito wiring in moto: source pool and client, target pool, client, Lambda.

`World` is what the cognito check tests share; tests/checks/cognito/conftest.py builds it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runbook.checkapi import CheckContext
from tests.support.runbooks import REGION, SOURCE

ACCESS_ROLE = f"arn:aws:iam::{SOURCE}:role/cognito-access-role"
EXTERNAL_ID = "externalcognito"
PASSWORD = "Correct-Horse-9"


@dataclass
class World:
    """The playbook's wiring: source pool and admin-auth client, target pool, client, Lambda.

    Built once per module (each user pool costs moto a key pair); a test changes it only
    through the methods below, which undo the change when the test ends.
    """

    source: Any  # unguarded cognito-idp clients, to build and change things
    target: Any
    lam: Any
    source_pool: str
    source_client: str
    target_pool: str
    target_pool_arn: str
    target_client: str
    function_arn: str
    ctx: CheckContext
    undo: list[Callable[[], None]] = field(default_factory=list)

    def set_env(self, variables: dict[str, str]) -> None:
        self._env(variables)
        self.undo.append(lambda: self._env(seed_env(self.source_pool, self.source_client)))

    def _env(self, variables: dict[str, str]) -> None:
        self.lam.update_function_configuration(
            FunctionName=self.function_arn, Environment={"Variables": variables}
        )

    def set_flows(self, side: str, flows: list[str]) -> None:
        client, pool, client_id, original = (
            (self.source, self.source_pool, self.source_client, SOURCE_FLOWS)
            if side == "source"
            else (self.target, self.target_pool, self.target_client, TARGET_FLOWS)
        )

        def apply(wanted: list[str]) -> None:
            client.update_user_pool_client(
                UserPoolId=pool, ClientId=client_id, ExplicitAuthFlows=wanted
            )

        apply(flows)
        self.undo.append(lambda: apply(original))

    def set_trigger(self, function_arn: str | None) -> None:
        def apply(arn: str | None) -> None:
            config = {"UserMigration": arn} if arn else {}
            self.target.update_user_pool(UserPoolId=self.target_pool, LambdaConfig=config)

        apply(function_arn)
        self.undo.append(lambda: apply(self.function_arn))

    def revoke_cognito_invoke(self) -> None:
        self.lam.remove_permission(FunctionName=self.function_arn, StatementId=INVOKE_SID)
        self.undo.append(lambda: allow_cognito(self.lam, self.function_arn, self.target_pool_arn))

    def add_target_user(self, username: str, email: str) -> None:
        add_user(self.target, self.target_pool, username, email)
        self.undo.append(
            lambda: self.target.admin_delete_user(UserPoolId=self.target_pool, Username=username)
        )


SOURCE_FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TARGET_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
INVOKE_SID = "cognito-usermigration"


def seed_env(source_pool: str, source_client: str) -> dict[str, str]:
    """The Lambda environment the seed's tutorial sets."""
    return {
        "OLD_USER_POOL_ID": source_pool,
        "OLD_CLIENT_ID": source_client,
        "OLD_ROLE_ARN": ACCESS_ROLE,
        "OLD_EXTERNAL_ID": EXTERNAL_ID,
        "OLD_USER_POOL_REGION": REGION,
    }


def lambda_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("index.js", "exports.handler = async (event) => event;\n")
    return buf.getvalue()


def allow_cognito(lam: Any, function_arn: str, pool_arn: str) -> None:
    lam.add_permission(
        FunctionName=function_arn,
        StatementId=INVOKE_SID,
        Action="lambda:InvokeFunction",
        Principal="cognito-idp.amazonaws.com",
        SourceArn=pool_arn,
    )


def add_user(client: Any, pool: str, username: str, email: str | None = None) -> None:
    attrs = [{"Name": "email", "Value": email}] if email else []
    client.admin_create_user(
        UserPoolId=pool, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
    )


def enable_totp(client: Any, pool: str, client_id: str, username: str) -> None:
    """A source user with an authenticator app, set up the way a user would."""
    client.admin_set_user_password(
        UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True
    )
    token = client.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    client.associate_software_token(AccessToken=token)
    client.verify_software_token(AccessToken=token, UserCode="123456")
    client.admin_set_user_mfa_preference(
        UserPoolId=pool,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
