"""S3 objects with conditional writes: the only place the backend talks to S3.

`create` is `PutObject` with `If-None-Match: *` (optionally with an Object Lock
retention), `replace` is `PutObject` with `If-Match: <etag read>`. A lost race
is `Conflict` (412 Precondition Failed, or 409 ConditionalRequestConflict, which
AWS documents as "retry"); S3 not answering in time is `BackendUnavailable`, an
OSError, so callers that already survive a full disk survive it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runbook.aws.errors import (
    error_code,
    http_status,
    is_botocore_error,
    is_client_error,
    is_retryable,
)
from runbook.formatting import error_line

if TYPE_CHECKING:
    from botocore.config import Config

    S3_CONFIG: Config


def __getattr__(name: str) -> Any:
    """`S3_CONFIG`, built when first named: botocore's config pulls in its HTTP stack,
    which the app's first paint does without."""
    if name != "S3_CONFIG":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from botocore.config import Config

    # Short: rollback and every record wait on these; a slow S3 makes the run degrade to
    # its local mirror rather than stall (the records are pushed later by `runbook sync`).
    config = Config(
        connect_timeout=2,
        read_timeout=4,
        retries={"mode": "standard", "total_max_attempts": 2},
    )
    globals()[name] = config  # built once
    return config


class BackendUnavailable(OSError):
    """S3 did not answer (network, timeout, 5xx, throttling): nothing is known to be written."""


class BackendError(RuntimeError):
    """S3 answered with a refusal that retrying will not change (e.g. AccessDenied)."""


class NotFound(Exception):
    """No such object (404)."""


class Conflict(Exception):
    """A conditional write lost: the object exists (create) or changed since read (replace)."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # without leading or trailing slash; may be empty

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith("s3://"):
            raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"{url!r} names no bucket")
        return cls(bucket, prefix.strip("/"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:
        if is_botocore_error(exc):  # connection refused, timeouts, DNS
            raise BackendUnavailable(f"{what}: {error_line(exc)}") from None
        if not is_client_error(exc):
            raise
        if http_status(exc) in (409, 412) or error_code(exc) in (
            "PreconditionFailed",
            "ConditionalRequestConflict",
        ):
            raise Conflict(f"{what}: {error_code(exc)}") from None
        if http_status(exc) == 404 or error_code(exc) in ("NoSuchKey", "NotFound"):
            raise NotFound(f"{what}: {error_code(exc)}") from None
        if is_retryable(exc):
            raise BackendUnavailable(f"{what}: {error_line(exc)}") from None
        raise BackendError(f"{what}: {error_line(exc)}") from None


class ObjectStore:
    """One run's objects under `s3://bucket/prefix`."""

    def __init__(self, client: Any, location: S3Location) -> None:
        self.client = client
        self.location = location

    def _where(self, name: str) -> str:
        return f"s3://{self.location.bucket}/{self.location.key(name)}"

    def get(self, name: str) -> tuple[bytes, str] | None:
        """(body, ETag), or None when there is no such object."""
        try:
            response = _call(
                f"GetObject {self._where(name)}",
                self.client.get_object,
                Bucket=self.location.bucket,
                Key=self.location.key(name),
            )
        except NotFound:
            return None
        return response["Body"].read(), str(response["ETag"])

    def create(
        self,
        name: str,
        body: bytes,
        *,
        lock_mode: str | None = None,
        retain_until: datetime | None = None,
    ) -> str:
        """Create only if absent (`If-None-Match: *`); the new ETag. Conflict if it exists."""
        extra: dict[str, Any] = {}
        if retain_until is not None:
            extra = {"ObjectLockMode": lock_mode, "ObjectLockRetainUntilDate": retain_until}
        response = _call(
            f"PutObject {self._where(name)} (If-None-Match: *)",
            self.client.put_object,
            Bucket=self.location.bucket,
            Key=self.location.key(name),
            Body=body,
            IfNoneMatch="*",
            ContentType="application/json",
            **extra,
        )
        return str(response["ETag"])

    def replace(self, name: str, body: bytes, etag: str) -> str:
        """Replace only what was read (`If-Match: etag`); the new ETag. Conflict if it changed."""
        try:
            response = _call(
                f"PutObject {self._where(name)} (If-Match)",
                self.client.put_object,
                Bucket=self.location.bucket,
                Key=self.location.key(name),
                Body=body,
                IfMatch=etag,
                ContentType="application/json",
            )
        except NotFound as exc:  # AWS: If-Match on a missing key is 404 NoSuchKey
            raise Conflict(str(exc)) from None
        return str(response["ETag"])

    def names(self, folder: str, *, start_after: str | None = None) -> Iterator[str]:
        """Object names under `folder/`, in key order, after `start_after` if given."""
        prefix = self.location.key(folder) + "/"
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": prefix}
        if start_after is not None:
            kwargs["StartAfter"] = prefix + start_after
        while True:
            page = _call(
                f"ListObjectsV2 {self._where(folder)}/", self.client.list_objects_v2, **kwargs
            )
            for item in page.get("Contents", []):
                yield str(item["Key"])[len(prefix) :]
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock (it can only be enabled with versioning)."""
        try:
            response = _call(
                f"GetObjectLockConfiguration s3://{self.location.bucket}",
                self.client.get_object_lock_configuration,
                Bucket=self.location.bucket,
            )
        except (BackendError, NotFound) as exc:
            if "ObjectLockConfigurationNotFound" in str(exc) or isinstance(exc, NotFound):
                return False
            raise
        config = response.get("ObjectLockConfiguration") or {}
        return config.get("ObjectLockEnabled") == "Enabled"

    def read_version(self, name: str, version_id: str | None) -> bytes:
        """One version's body (the current one when `version_id` is None or "null")."""
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self.location.key(name)}
        if version_id not in (None, "null"):
            kwargs["VersionId"] = version_id
        response = _call(f"GetObject {self._where(name)}", self.client.get_object, **kwargs)
        body: bytes = response["Body"].read()
        return body

    def head(self, name: str, version_id: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self.location.key(name)}
        if version_id not in (None, "null"):
            kwargs["VersionId"] = version_id
        result: dict[str, Any] = _call(
            f"HeadObject {self._where(name)}", self.client.head_object, **kwargs
        )
        return result

    def versions(self, folder: str) -> dict[str, list[dict[str, Any]]]:
        """Every version and delete marker under `folder/`, by name (oldest first)."""
        prefix = self.location.key(folder) + "/"
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": prefix}
        found: dict[str, list[dict[str, Any]]] = {}
        while True:
            page = _call(
                f"ListObjectVersions {self._where(folder)}/",
                self.client.list_object_versions,
                **kwargs,
            )
            for kind in ("Versions", "DeleteMarkers"):
                for index, item in enumerate(page.get(kind, [])):
                    # S3 lists each key's versions newest first: `Order` keeps that
                    # when two share a LastModified second.
                    entry = {**item, "DeleteMarker": kind == "DeleteMarkers", "Order": -index}
                    found.setdefault(str(item["Key"])[len(prefix) :], []).append(entry)
            if not page.get("IsTruncated"):
                break
            kwargs["KeyMarker"] = page.get("NextKeyMarker")
            kwargs["VersionIdMarker"] = page.get("NextVersionIdMarker")
        for entries in found.values():
            entries.sort(key=lambda e: (e["LastModified"], bool(e.get("IsLatest")), e["Order"]))
        return found
