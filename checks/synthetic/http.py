"""synthetic.http: the workload answers HTTP requests with the expected status, quickly.

Advisory. The playbook validates the target with synthetic transactions
before cutover and watches the same URLs after the flip. Redirects are not
followed, so the status checked is the one the server sent (a health URL that
redirects to a login page is not healthy). Proxies follow the usual
`HTTP(S)_PROXY` / `NO_PROXY` environment variables.

The source and the target both answer 200, so a status proves nothing about
which one answered. Each URL may name what only the target's answer carries:
a response header (`expect_header`), text in the body's first 64 KiB
(`expect_body_contains`), or the addresses its host must resolve to
(`expect_addresses`, as this machine's resolver sees them; through a proxy the
proxy resolves on its own).
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

USER_AGENT = "runbook-synthetic/0.1"
READ_LIMIT = 64 * 1024  # bounded: enough to time a response and find a marker near the top
MAX_WORKERS = 8
REQUEST_HEADERS = {
    "User-Agent": USER_AGENT,
    # Asks any cache on the way to revalidate, so it does not answer with the source's page.
    "Cache-Control": "no-cache",
}
NOT_TARGET = "not the target's answer"


class HeaderMarker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description="Response header (any case)."
    )
    value: str = Field(min_length=1, description="Its exact value on the target's answers.")


class UrlProbe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/]+", description="http:// or https:// URL.")
    expected_status: int = Field(default=200, ge=100, le=599, description="Status that passes.")
    max_latency_ms: float = Field(
        default=2000, gt=0, description="Slower than this counts as a failure."
    )
    expect_header: HeaderMarker | None = Field(
        default=None,
        description=(
            'A header only the target\'s answers carry, e.g. {name = "X-Served-By", '
            'value = "target"}: absent or another value means the source answered.'
        ),
    )
    expect_body_contains: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description=f"Text the target's body holds in its first {READ_LIMIT // 1024} KiB (GET).",
    )
    expect_addresses: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description=(
            "Addresses or CIDRs of the target: every address the URL's host resolves to "
            "must be among them."
        ),
    )

    @property
    def has_marker(self) -> bool:
        return bool(self.expect_header or self.expect_body_contains or self.expect_addresses)


class SyntheticHttpParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[UrlProbe] = Field(
        min_length=1,
        description="URLs to request: a string, or {url, expected_status, max_latency_ms, "
        "expect_header, expect_body_contains, expect_addresses}.",
    )
    method: Literal["GET", "HEAD"] = Field(default="GET", description="GET or HEAD.")
    timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per-request timeout.")
    min_success_rate: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of URLs that must succeed (0-1): at or above it a failure warns, "
        "below it the check fails.",
    )

    @field_validator("urls", mode="before")
    @classmethod
    def _bare_strings(cls, value: Any) -> Any:
        # `urls = ["https://app.example.com/health"]` reads better in TOML than a table.
        if isinstance(value, list):
            return [{"url": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _body_needs_get(self) -> SyntheticHttpParams:
        if self.method == "HEAD" and any(u.expect_body_contains for u in self.urls):
            raise ValueError("expect_body_contains needs method GET: a HEAD answer has no body")
        return self


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError carrying the 3xx status


def resolve(host: str, port: int) -> list[str]:
    """The addresses this machine's resolver gives for `host`, sorted."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def _address_problem(target: UrlProbe) -> tuple[list[str] | None, str | None]:
    """(resolved addresses, problem) for a URL with `expect_addresses`."""
    parts = urlsplit(target.url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port)
    except (OSError, ValueError) as exc:
        return None, f"cannot resolve {host}: {exc}"
    outside = [a for a in addresses if not any(ip_address(a) in n for n in target.expect_addresses)]
    if addresses and not outside:
        return addresses, None
    # A single address reads as itself, not as a /32.
    wanted = ", ".join(
        str(n.network_address) if n.num_addresses == 1 else str(n) for n in target.expect_addresses
    )
    return addresses, (
        f"{host} resolves to {', '.join(addresses) or 'nothing'}, not the target's {wanted}"
    )


def _marker_problems(target: UrlProbe, headers: Message | None, body: bytes) -> list[str]:
    problems: list[str] = []
    marker = target.expect_header
    if marker is not None:
        values = [v.strip() for v in (headers.get_all(marker.name) or [])] if headers else []
        if not values:
            problems.append(f"header {marker.name} absent: {NOT_TARGET}")
        elif marker.value not in values:
            seen = ", ".join(repr(v) for v in values)
            problems.append(
                f"header {marker.name} is {seen}, expected {marker.value!r}: {NOT_TARGET}"
            )
    text = target.expect_body_contains
    if text is not None and text.encode("utf-8") not in body:
        problems.append(f"body lacks {text!r} (first {READ_LIMIT // 1024} KiB read): {NOT_TARGET}")
    return problems


def probe(
    opener: urllib.request.OpenerDirector, target: UrlProbe, method: str, timeout_s: float
) -> dict[str, Any]:
    """One request: status, latency, which side answered, and whether it met the expectation."""
    addresses, address_problem = (
        _address_problem(target) if target.expect_addresses else (None, None)
    )
    request = urllib.request.Request(target.url, method=method, headers=REQUEST_HEADERS)
    status: int | None = None
    error: str | None = None
    headers: Message | None = None
    body = b""
    start = time.perf_counter()
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(READ_LIMIT)
            status = int(response.status)
            headers = response.headers
    except urllib.error.HTTPError as exc:
        status = exc.code  # a response, just not a 2xx one
        headers = exc.headers
        try:
            body = exc.read(READ_LIMIT)
        except (OSError, http.client.HTTPException):
            body = b""
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        error = str(exc.reason)
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    latency_ms = round((time.perf_counter() - start) * 1000, 1)

    problems: list[str] = []
    if error is not None:
        problems.append(error)
    elif status != target.expected_status:
        problems.append(f"status {status}, expected {target.expected_status}")
    markers = _marker_problems(target, headers, body) if error is None else []
    problems.extend(markers)
    if address_problem is not None:
        problems.append(address_problem)
    if error is None and latency_ms > target.max_latency_ms:
        problems.append(f"took {latency_ms:.0f} ms, more than {target.max_latency_ms:.0f} ms")
    from_target: bool | None = None
    if target.has_marker:
        from_target = error is None and not markers and address_problem is None
    result: dict[str, Any] = {
        "url": target.url,
        "method": method,
        "status": status,
        "expected_status": target.expected_status,
        "latency_ms": latency_ms,
        "from_target": from_target,
        "ok": not problems,
        "problem": "; ".join(problems) if problems else None,
    }
    if target.expect_header is not None:
        result["served_by"] = headers.get(target.expect_header.name) if headers else None
    if target.expect_addresses:
        result["addresses"] = addresses
    return result


class SyntheticHttpCheck(Check[SyntheticHttpParams]):
    meta = CheckMeta(
        id="synthetic.http",
        title="Synthetic HTTP requests succeed",
        account="none",
        blocking=False,
        severity="medium",
        iam_actions=(),
        remediation=(
            "Look at the failing URLs' status and latency; check the target's load balancer "
            "health, security groups and logs before going further. An answer without the "
            "target's marker came from the source: check the DNS record, resolvers still "
            "within the old TTL, and any CDN or proxy in front."
        ),
    )
    params_model = SyntheticHttpParams

    def run(self, ctx: CheckContext, params: SyntheticHttpParams) -> CheckResult:
        opener = urllib.request.build_opener(_NoRedirect())
        workers = min(MAX_WORKERS, len(params.urls))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synthetic") as pool:
            results = list(
                pool.map(lambda t: probe(opener, t, params.method, params.timeout_s), params.urls)
            )
        good = sum(1 for r in results if r["ok"])
        rate = good / len(results)
        details = [
            f"{r['url']}: {'ok' if r['ok'] else r['problem']} "
            f"({r['method']}, status {r['status'] if r['status'] is not None else '-'}, "
            f"{r['latency_ms']:.0f} ms)"
            for r in results
        ]
        unmarked = [t.url for t in params.urls if not t.has_marker]
        if unmarked:
            details.append(
                f"no target marker (expect_header, expect_body_contains, expect_addresses) for "
                f"{', '.join(unmarked)}: the source would pass too"
            )
        evidence = {
            "success_rate": round(rate, 3),
            "min_success_rate": params.min_success_rate,
            "results": results,
        }
        if good == len(results):
            summary = f"{good}/{len(results)} URLs OK"
            proven = len(results) - len(unmarked)
            if proven == len(results):
                summary += ", each answered by the target"
            elif proven:
                summary += f", {proven} proven answered by the target"
            return CheckResult.passed(summary, details, **evidence)
        failing = [r for r in results if not r["ok"]]
        first = f"{failing[0]['url']}: {failing[0]['problem']}"
        summary = f"{good}/{len(results)} URLs OK ({rate:.0%}); {first}"
        if rate >= params.min_success_rate:
            return CheckResult.warned(summary, details, **evidence)
        return CheckResult.failed(summary, details, **evidence)
