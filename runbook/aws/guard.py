"""The source account's read-only guard.

Registered on `before-parameter-build`, which every API call, paginator, waiter
and presigned URL passes through before anything is serialised or signed
(`before-call` is skipped by presigning). It allows an explicit list of exact
operations and blocks everything else. Prefixes are not a classifier:
`cognito-identity:GetId` creates an identity and `redshift:GetClusterCredentials`
creates a database user, while DynamoDB's `Query` only reads.
"""

from __future__ import annotations

import threading
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
            # The outcome of DMS's "test connection" (a status and a message), for
            # dms.network_path when DMS runs in the source account.
            "DescribeConnections",
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
            # Returns the client secret: cognito.migration_trigger reads only the
            # auth flows and whether a secret exists; the secret is never kept.
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
            # The default encryption (algorithm and key id, no key material):
            # s3.replication fails a KMS-encrypted source whose rule skips SSE-KMS objects.
            "GetBucketEncryption",
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
    # No Lambda reads: no check needs the source's functions, and every one of
    # ListFunctions, GetFunction(Configuration) hands out environment variables
    # (GetFunction a presigned code URL too), which often hold secrets.
    "iam": frozenset({"GetRole", "ListRoles"}),
    # Table metadata only, for cfn.drift's inventory of tables no stack manages
    # and the playbook's describe-and-redeclare step. None returns item data:
    # Scan, Query, GetItem, BatchGetItem, TransactGetItems and ExecuteStatement
    # (PartiQL, which also writes) stay blocked; no check needs the items.
    "dynamodb": frozenset(
        {
            "ListTables",  # table names
            "DescribeTable",  # key schema, indexes, billing, stream, SSE settings
            "DescribeTimeToLive",  # the TTL attribute's name and status
            "DescribeContinuousBackups",  # whether point-in-time recovery is on
            "ListTagsOfResource",  # the table's tags, redeclared in the template
        }
    ),
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


class _Models:
    """The allowlisted services' models, read once on first use (signing only).

    `before-sign` names the service by its hyphenated service ID (e.g.
    `cognito-identity-provider` for `cognito-idp`) and gives the request, not
    the operation model: this maps the ID back, and each allowlisted operation
    to the HTTP method its model declares.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, str] | None = None
        self._methods: dict[tuple[str, str], str] = {}

    def _load(self) -> dict[str, str]:
        with self._lock:
            if self._by_id is None:
                # Here, not at import: the guard's module is imported before the app paints.
                import botocore.loaders
                from botocore.model import ServiceId

                loader = botocore.loaders.create_loader()
                by_id = {}
                for service, operations in SOURCE_ALLOWLIST.items():
                    model = loader.load_service_model(service, "service-2")
                    by_id[ServiceId(model["metadata"]["serviceId"]).hyphenize()] = service
                    for name in operations:
                        http = model["operations"][name].get("http", {})
                        self._methods[(service, name)] = str(http.get("method", "POST")).upper()
                self._by_id = by_id
            return self._by_id

    def service(self, service_id: str) -> str | None:
        return self._load().get(service_id)

    def method(self, service: str, operation: str) -> str:
        self._load()
        return self._methods[(service, operation)]


_MODELS = _Models()


def read_only_sign_guard(
    request: Any = None, operation_name: str = "", event_name: str = "", **_kwargs: Any
) -> None:
    """`before-sign` handler: the (service, operation, HTTP method) actually being signed.

    A second layer behind `before-parameter-build`, for what it cannot see:
    `rds.generate_db_auth_token` signs a `connect` request locally without
    building parameters (a database login token would let the holder write), and
    `generate_presigned_url(..., HttpMethod="DELETE")` sets the method after the
    parameters are built, so an allowlisted `HeadBucket` would sign a DELETE.
    Presigned POSTs sign `PutObject`, which no service allows here.
    """
    service_id = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
    service = _MODELS.service(service_id)
    if service is None or not is_allowed(service, operation_name):
        raise ReadOnlyViolation(service or service_id or "unknown", operation_name)
    method = str(getattr(request, "method", "") or "").upper()
    expected = _MODELS.method(service, operation_name)
    if method != expected:
        raise ReadOnlyViolation(service, f"{operation_name} sent as {method or '?'}")


def read_only_guard(model: Any = None, **_kwargs: Any) -> None:
    """`before-parameter-build` handler: raise unless the operation is allowlisted."""
    service = str(model.service_model.service_name)
    operation = str(model.name)
    if not is_allowed(service, operation):
        raise ReadOnlyViolation(service, operation)
