"""synthetic.http: the workload answers HTTP requests with the expected status, quickly.

Advisory. The playbook validates the target with synthetic transactions
before cutover and watches the same URLs after the flip. Redirects are not
followed, so the status checked is the one the server sent (a health URL that
redirects to a login page is not healthy). Proxies follow the usual
`HTTP(S)_PROXY` / `NO_PROXY` environment variables.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult

USER_AGENT = "runbook-synthetic/0.1"
READ_LIMIT = 64 * 1024  # enough to time a response; the body itself is not checked
MAX_WORKERS = 8


class UrlProbe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/]+", description="http:// or https:// URL.")
    expected_status: int = Field(default=200, ge=100, le=599, description="Status that passes.")
    max_latency_ms: float = Field(
        default=2000, gt=0, description="Slower than this counts as a failure."
    )


class SyntheticHttpParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[UrlProbe] = Field(
        min_length=1,
        description="URLs to request: a string, or {url, expected_status, max_latency_ms}.",
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError carrying the 3xx status


def probe(
    opener: urllib.request.OpenerDirector, target: UrlProbe, method: str, timeout_s: float
) -> dict[str, Any]:
    """One request: status, latency, and whether it met the expectation."""
    request = urllib.request.Request(target.url, method=method, headers={"User-Agent": USER_AGENT})
    status: int | None = None
    error: str | None = None
    start = time.perf_counter()
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read(READ_LIMIT)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code  # a response, just not a 2xx one
        exc.close()
    except urllib.error.URLError as exc:
        error = str(exc.reason)
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    latency_ms = round((time.perf_counter() - start) * 1000, 1)

    if error is not None:
        problem: str | None = error
    elif status != target.expected_status:
        problem = f"status {status}, expected {target.expected_status}"
    elif latency_ms > target.max_latency_ms:
        problem = f"took {latency_ms:.0f} ms, more than {target.max_latency_ms:.0f} ms"
    else:
        problem = None
    return {
        "url": target.url,
        "status": status,
        "expected_status": target.expected_status,
        "latency_ms": latency_ms,
        "ok": problem is None,
        "problem": problem,
    }


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
            "health, security groups and logs before going further."
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
            f"(status {r['status'] if r['status'] is not None else '-'}, {r['latency_ms']:.0f} ms)"
            for r in results
        ]
        evidence = {
            "success_rate": round(rate, 3),
            "min_success_rate": params.min_success_rate,
            "results": results,
        }
        if good == len(results):
            return CheckResult.passed(f"{good}/{len(results)} URLs OK", details, **evidence)
        failing = [r for r in results if not r["ok"]]
        first = f"{failing[0]['url']}: {failing[0]['problem']}"
        summary = f"{good}/{len(results)} URLs OK ({rate:.0%}); {first}"
        if rate >= params.min_success_rate:
            return CheckResult.warned(summary, details, **evidence)
        return CheckResult.failed(summary, details, **evidence)
