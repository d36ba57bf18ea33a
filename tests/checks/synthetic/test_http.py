"""synthetic.http against a tiny HTTP server on the loopback interface."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pydantic
import pytest

from runbook.aws.session import SessionFactory
from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.model import Runbook
from runbook.registry import CheckRegistry
from tests.support.checks import run_check
from tests.support.runbooks import base_runbook

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.05)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/ok")
        else:
            self.send_response(200 if self.path in ("/ok", "/slow") else 500)
        body = b"hello\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)  # loopback requests must not go to a proxy
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval so shutdown() returns quickly.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def ctx(tmp_path: Path) -> CheckContext:
    model = Runbook.model_validate(base_runbook())
    return CheckContext(runbook=model, sessions=SessionFactory(model.accounts), state_dir=tmp_path)


def run(ctx: CheckContext, **params: Any) -> CheckResult:
    result: CheckResult = run_check(ctx, "synthetic.http", params)
    return result


def test_passes_when_every_url_answers_as_expected(ctx: CheckContext, server: str) -> None:
    result = run(ctx, urls=[f"{server}/ok", {"url": f"{server}/fail", "expected_status": 500}])
    assert result.status == Status.PASS, result
    assert result.summary == "2/2 URLs OK"
    assert result.evidence["success_rate"] == 1.0
    assert [r["status"] for r in result.evidence["results"]] == [200, 500]
    assert all(r["latency_ms"] >= 0 for r in result.evidence["results"])


def test_fails_on_an_unexpected_status(ctx: CheckContext, server: str) -> None:
    result = run(ctx, urls=[f"{server}/ok", f"{server}/fail"])
    assert result.status == Status.FAIL, result
    assert result.summary == f"1/2 URLs OK (50%); {server}/fail: status 500, expected 200"
    assert result.evidence["results"][1]["ok"] is False


def test_warns_when_the_success_rate_is_still_acceptable(ctx: CheckContext, server: str) -> None:
    result = run(ctx, urls=[f"{server}/ok", f"{server}/fail"], min_success_rate=0.5)
    assert result.status == Status.WARN, result
    result = run(ctx, urls=[f"{server}/ok", f"{server}/fail"], min_success_rate=0.51)
    assert result.status == Status.FAIL, result


def test_redirects_are_reported_not_followed(ctx: CheckContext, server: str) -> None:
    result = run(ctx, urls=[f"{server}/moved"])
    assert result.status == Status.FAIL, result
    assert "status 302, expected 200" in result.summary
    assert run(ctx, urls=[{"url": f"{server}/moved", "expected_status": 302}]).status == Status.PASS


def test_a_slow_answer_fails(ctx: CheckContext, server: str) -> None:
    # The handler sleeps 50 ms, so 1 ms can never be met.
    result = run(ctx, urls=[{"url": f"{server}/slow", "max_latency_ms": 1}])
    assert result.status == Status.FAIL, result
    assert "more than 1 ms" in result.summary
    assert result.evidence["results"][0]["status"] == 200


def test_head_requests(ctx: CheckContext, server: str) -> None:
    assert run(ctx, urls=[f"{server}/ok"], method="HEAD").status == Status.PASS


def test_connection_refused_is_a_failure_not_an_error(ctx: CheckContext, server: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/ok"  # nothing listens once closed
    result = run(ctx, urls=[closed, f"{server}/ok"], timeout_s=2)
    assert result.status == Status.FAIL, result
    first = result.evidence["results"][0]
    assert first["status"] is None and "refused" in first["problem"].lower()


def test_params_are_validated() -> None:
    model = CheckRegistry.discover().get("synthetic.http").params_model
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"urls": ["file:///etc/passwd"]})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"urls": []})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"urls": ["http://x.example"], "method": "POST"})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"urls": ["http://x.example"], "min_success_rate": 2})
    parsed = model.model_validate({"urls": ["https://app.example.com/health"]})
    probe = parsed.model_dump()["urls"][0]
    assert probe == {
        "url": "https://app.example.com/health",
        "expected_status": 200,
        "max_latency_ms": 2000,
    }
