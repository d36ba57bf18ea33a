"""A `before-send` fault injector: runs inside botocore's retry loop, unlike Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def route53_error(code: str, status: int) -> AWSResponse:
    body = (
        '<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>injected {code}</Message></Error>"
        "<RequestId>fault</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse("https://route53.amazonaws.com/", status, {}, _Raw(body))


FAULTS = ("throttling", "prior_request", "http_503", "connection", "read_timeout")


class Injector:
    """Fails the first `failures` matching requests with `fault`, then lets them through."""

    def __init__(self, fault: str, failures: int, operations: tuple[str, ...] = ()) -> None:
        self.fault = fault
        self.remaining = failures
        self.operations = operations
        self.seen = 0
        self.injected = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        if self.operations and operation not in self.operations:
            return None
        self.seen += 1
        if self.remaining == 0:
            return None
        if self.remaining > 0:
            self.remaining -= 1
        self.injected += 1
        if self.fault == "throttling":
            return route53_error("Throttling", 400)
        if self.fault == "prior_request":
            return route53_error("PriorRequestNotComplete", 400)
        if self.fault == "http_503":
            return route53_error("ServiceUnavailable", 503)
        if self.fault == "connection":
            raise EndpointConnectionError(endpoint_url=request.url)
        if self.fault == "read_timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        raise AssertionError(self.fault)
