"""Pacing requests to a user pool: a shared rate, halved on throttling, and a jittered backoff.

Cognito's quotas are per category (user creation about 50 a second, ListUsers
about 30) and the source's are shared with live sign-ins, so force-migration
paces every request to a pool at one rate, halves it on throttling and
recovers it slowly.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code

THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})


class Cancelled(Exception):
    """The run was cancelled (while waiting out a throttle, or between users)."""


class RateLimiter:
    """At most `rate` requests a second across threads; halves on throttling, recovers slowly."""

    def __init__(self, rate: float, wait: Callable[[float], object]) -> None:
        self.target = rate
        self.rate = rate
        self._wait = wait
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
        if slot > now:
            self._wait(slot - now)

    def throttled(self) -> None:
        with self._lock:
            self.rate = max(self.target / 16, self.rate / 2)

    def succeeded(self) -> None:
        with self._lock:
            if self.rate < self.target:
                self.rate = min(self.target, self.rate + self.target / 50)


class Api:
    """Paced calls to one pool, with backoff on throttling beyond botocore's own retries.

    A ClientError that ends the retries carries `runbook_retried`: whether an
    earlier attempt was sent (it may have been applied, only its answer lost).
    """

    def __init__(
        self,
        client: Any,
        limiter: RateLimiter,
        *,
        cancel: threading.Event,
        backoff_base_s: float,
        max_backoff_s: float,
        max_throttle_retries: int,
        on_throttle: Callable[[], None],
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.cancel = cancel
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.max_throttle_retries = max_throttle_retries
        self.on_throttle = on_throttle

    def __call__(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        attempt = 0
        while True:
            self.limiter.acquire()
            try:
                result: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            except ClientError as exc:
                if error_code(exc) not in THROTTLE_CODES or attempt >= self.max_throttle_retries:
                    # An earlier attempt may have been applied (only its answer lost).
                    exc.runbook_retried = attempt > 0
                    raise
                attempt += 1
                self.limiter.throttled()
                self.on_throttle()
                delay = min(self.max_backoff_s, self.backoff_base_s * 2**attempt)
                if self.cancel.wait(delay * random.uniform(0.5, 1.0)):
                    raise Cancelled() from None
                continue
            self.limiter.succeeded()
            return result
