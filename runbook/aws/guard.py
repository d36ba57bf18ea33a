"""The source account's read-only guard.

Registered on `before-parameter-build`, which every API call, paginator, waiter
and presigned URL passes through before anything is serialised or signed
(`before-call` is skipped by presigning). It allows an explicit list of exact
operations and blocks everything else. Prefixes are not a classifier:
`cognito-identity:GetId` creates an identity and `redshift:GetClusterCredentials`
creates a database user, while DynamoDB's `Query` only reads.
"""

from __future__ import annotations

from typing import Any

# Reviewed: each entry reads and changes nothing in the source account.
# Keyed by botocore's service name (`client.meta.service_model.service_name`).
SOURCE_ALLOWLIST: dict[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity"}),
    "ec2": frozenset(
        {
            "DescribeVpcs",
            "DescribeSubnets",
            "DescribeRouteTables",
            "DescribeSecurityGroups",
            "DescribeSecurityGroupRules",
            "DescribeNatGateways",
            "DescribeNetworkInterfaces",
            "DescribeVpcEndpoints",
            "DescribeVpcEndpointServices",
            "DescribeVpcEndpointServiceConfigurations",
            "DescribeVpcEndpointConnections",
            "DescribeVpcPeeringConnections",
            "DescribeTransitGateways",
            "DescribeTransitGatewayAttachments",
            "DescribeAddresses",
        }
    ),
    "rds": frozenset(
        {
            "DescribeDBInstances",
            "DescribeDBClusters",
            "DescribeDBSubnetGroups",
            "DescribeDBParameters",
            "DescribeDBClusterParameters",
        }
    ),
    "dms": frozenset(
        {
            "DescribeReplicationTasks",
            "DescribeReplicationInstances",
            "DescribeEndpoints",
            "DescribeTableStatistics",
        }
    ),
    "cloudformation": frozenset(
        {
            "DescribeStacks",
            "ListStacks",
            "ListStackResources",
            "DescribeStackResources",
            "GetTemplate",
            "GetTemplateSummary",
            # Drift detection records a detection run but changes no resource
            # and no stack; the playbook runs it against the source on purpose.
            "DetectStackDrift",
            "DescribeStackDriftDetectionStatus",
            "DescribeStackResourceDrifts",
        }
    ),
    "cognito-idp": frozenset(
        {
            "DescribeUserPool",
            "DescribeUserPoolClient",
            "ListUserPoolClients",
            "ListUsers",
            "AdminGetUser",
            "AdminListGroupsForUser",
            "ListGroups",
            "ListUsersInGroup",
            "GetUserPoolMfaConfig",
        }
    ),
    "s3": frozenset(
        {
            "ListBuckets",
            "GetBucketLocation",
            "GetBucketVersioning",
            "GetBucketReplication",
            "GetBucketPolicy",
            "HeadBucket",
        }
    ),
    "route53": frozenset(
        {
            "ListHostedZones",
            "ListHostedZonesByName",
            "GetHostedZone",
            "ListResourceRecordSets",
            "GetChange",
        }
    ),
    "cloudwatch": frozenset(
        {"ListMetrics", "GetMetricData", "GetMetricStatistics", "DescribeAlarms"}
    ),
    "lambda": frozenset({"ListFunctions", "GetFunction", "GetFunctionConfiguration"}),
    "iam": frozenset({"GetRole", "ListRoles"}),
}


class ReadOnlyViolation(PermissionError):
    """A call through a source-account session that is not on the allowlist."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"blocked before sending: {service}:{operation} is not on the source account's "
            "read-only allowlist (the source account is never changed)"
        )
        self.service = service
        self.operation = operation


def is_allowed(service: str, operation: str) -> bool:
    return operation in SOURCE_ALLOWLIST.get(service, frozenset())


_ANY_ALLOWED = frozenset().union(*SOURCE_ALLOWLIST.values())


def read_only_sign_guard(operation_name: str = "", event_name: str = "", **_kwargs: Any) -> None:
    """`before-sign` handler: a second layer for what signs without building parameters.

    `rds.generate_db_auth_token` signs a `connect` request locally and never
    emits `before-parameter-build`; a database login token would let the holder
    write to the source database.
    """
    if operation_name not in _ANY_ALLOWED:
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else "unknown"
        raise ReadOnlyViolation(service, operation_name)


def read_only_guard(model: Any = None, **_kwargs: Any) -> None:
    """`before-parameter-build` handler: raise unless the operation is allowlisted."""
    service = str(model.service_model.service_name)
    operation = str(model.name)
    if not is_allowed(service, operation):
        raise ReadOnlyViolation(service, operation)
