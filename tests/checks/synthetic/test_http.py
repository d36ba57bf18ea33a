"""synthetic.http against a tiny HTTP server on the loopback interface.

The server records the method, path and headers of every request it gets,
and HEAD has its own handler (never the GET one): a check that sent GET when
told HEAD, or never sent the headers it claims, is caught.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pydantic
import pytest

from checks.synthetic import http as synthetic
from runbook.aws.session import SessionFactory
from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.model import Runbook
from runbook.registry import CheckRegistry
from tests.support.checks import result_text, run_check
from tests.support.runbooks import base_runbook

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
MARKER = {"name": "X-Served-By", "value": "target"}
TARGET_PAGE = b"<html><body>acme shop <!-- served-by: target --></body></html>\n"
SOURCE_PAGE = b"<html><body>acme shop</body></html>\n"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased


class RecordingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()


def page(path: str) -> tuple[int, dict[str, str], bytes]:
    """What GET answers: (status, headers, body). The target marks its answers; the source not."""
    if path == "/moved":
        return 302, {"Location": "/ok"}, b""
    if path == "/target":
        return 200, {"X-Served-By": "target"}, TARGET_PAGE
    if path == "/source":
        return 200, {}, SOURCE_PAGE
    if path == "/other":
        return 200, {"X-Served-By": "source"}, SOURCE_PAGE
    if path == "/big":
        # The marker lies past what the check reads: it must not be found.
        return 200, {}, b"x" * (synthetic.READ_LIMIT + 10) + b"served-by: target"
    if path == "/slow":
        time.sleep(0.05)
    if path in ("/ok", "/slow", "/get-only"):
        return 200, {}, b"hello\n"
    return 500, {}, b"broken\n"


class Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def _record(self) -> None:
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        with self.server.lock:
            self.server.seen.append(seen)

    def _send(self, status: int, headers: dict[str, str], length: int) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self) -> None:
        self._record()
        status, headers, body = page(self.path)
        self._send(status, headers, len(body))
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._record()
        if self.path == "/get-only":
            self._send(405, {"Allow": "GET"}, 0)
            return
        status, headers, body = page(self.path)
        self._send(status, headers, len(body))  # the length GET would send, and no body

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture
def httpd(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)  # loopback requests must not go to a proxy
    server = RecordingServer()
    # A short poll interval so shutdown() returns quickly.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server(httpd: RecordingServer) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


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
    # Nothing proves which side answered: said in the details, not hidden.
    assert any("the source would pass too" in line for line in result.details)


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


def test_redirects_are_reported_not_followed(
    ctx: CheckContext, server: str, httpd: RecordingServer
) -> None:
    result = run(ctx, urls=[f"{server}/moved"])
    assert result.status == Status.FAIL, result
    assert "status 302, expected 200" in result.summary
    assert run(ctx, urls=[{"url": f"{server}/moved", "expected_status": 302}]).status == Status.PASS
    assert [s.path for s in httpd.seen] == ["/moved", "/moved"]  # /ok was never asked


def test_a_slow_answer_fails(ctx: CheckContext, server: str) -> None:
    # The handler sleeps 50 ms, so 1 ms can never be met.
    result = run(ctx, urls=[{"url": f"{server}/slow", "max_latency_ms": 1}])
    assert result.status == Status.FAIL, result
    assert "more than 1 ms" in result.summary
    assert result.evidence["results"][0]["status"] == 200


def test_head_is_sent_as_head_and_get_as_get(
    ctx: CheckContext, server: str, httpd: RecordingServer
) -> None:
    assert run(ctx, urls=[f"{server}/ok"], method="HEAD").status == Status.PASS
    # This server's HEAD handler refuses /get-only: only a real HEAD request sees the 405.
    head = run(ctx, urls=[f"{server}/get-only"], method="HEAD")
    assert head.status == Status.FAIL, head
    assert "status 405, expected 200" in head.summary
    assert run(ctx, urls=[f"{server}/get-only"]).status == Status.PASS
    assert [(s.method, s.path) for s in httpd.seen] == [
        ("HEAD", "/ok"),
        ("HEAD", "/get-only"),
        ("GET", "/get-only"),
    ]


def test_request_headers_name_the_tool_and_ask_caches_to_revalidate(
    ctx: CheckContext, server: str, httpd: RecordingServer
) -> None:
    port = httpd.server_address[1]
    assert run(ctx, urls=[f"{server}/ok"]).status == Status.PASS
    [seen] = httpd.seen
    assert seen.headers["user-agent"] == synthetic.USER_AGENT
    assert seen.headers["host"] == f"127.0.0.1:{port}"
    # A cache between this machine and the app must not answer with the source's page.
    assert seen.headers["cache-control"] == "no-cache"


def test_a_header_marker_tells_the_target_from_the_source(
    ctx: CheckContext, server: str, httpd: RecordingServer
) -> None:
    target = run(ctx, urls=[{"url": f"{server}/target", "expect_header": MARKER}])
    assert target.status == Status.PASS, target
    assert target.summary == "1/1 URLs OK, each answered by the target"
    assert target.evidence["results"][0]["from_target"] is True

    # The source answers 200 too: without the marker it would pass.
    assert run(ctx, urls=[f"{server}/source"]).status == Status.PASS
    source = run(ctx, urls=[{"url": f"{server}/source", "expect_header": MARKER}])
    assert source.status == Status.FAIL, source
    assert source.summary == (
        f"0/1 URLs OK (0%); {server}/source: header X-Served-By absent: not the target's answer"
    )
    assert source.evidence["results"][0]["from_target"] is False
    assert source.evidence["results"][0]["status"] == 200

    other = run(ctx, urls=[{"url": f"{server}/other", "expect_header": MARKER}], method="HEAD")
    assert other.status == Status.FAIL, other
    assert "header X-Served-By is 'source', expected 'target'" in other.summary
    assert [s.method for s in httpd.seen] == ["GET", "GET", "GET", "HEAD"]


def test_a_header_marker_name_is_matched_in_any_case(ctx: CheckContext, server: str) -> None:
    marker = {"name": "x-served-by", "value": "target"}
    assert run(ctx, urls=[{"url": f"{server}/target", "expect_header": marker}]).status == (
        Status.PASS
    )
    wrong_case_value = {"name": "X-Served-By", "value": "TARGET"}
    result = run(ctx, urls=[{"url": f"{server}/target", "expect_header": wrong_case_value}])
    assert result.status == Status.FAIL, result


def test_a_body_marker_tells_the_target_from_the_source(ctx: CheckContext, server: str) -> None:
    marker = "served-by: target"
    target = run(ctx, urls=[{"url": f"{server}/target", "expect_body_contains": marker}])
    assert target.status == Status.PASS, target
    source = run(ctx, urls=[{"url": f"{server}/source", "expect_body_contains": marker}])
    assert source.status == Status.FAIL, source
    assert f"body lacks {marker!r}" in source.summary
    assert "not the target's answer" in source.summary


def test_the_body_is_read_bounded(ctx: CheckContext, server: str) -> None:
    result = run(ctx, urls=[{"url": f"{server}/big", "expect_body_contains": "served-by: target"}])
    assert result.status == Status.FAIL, result
    assert f"first {synthetic.READ_LIMIT // 1024} KiB" in result.summary


def test_the_resolved_addresses_must_be_the_targets(ctx: CheckContext, server: str) -> None:
    url = f"{server}/ok"
    mine = run(ctx, urls=[{"url": url, "expect_addresses": ["127.0.0.0/8"]}])
    assert mine.status == Status.PASS, mine
    assert mine.evidence["results"][0]["addresses"] == ["127.0.0.1"]
    source = run(ctx, urls=[{"url": url, "expect_addresses": ["203.0.113.10", "2001:db8::/32"]}])
    assert source.status == Status.FAIL, source
    assert "127.0.0.1 resolves to 127.0.0.1, not the target's 203.0.113.10, 2001:db8::/32" in (
        source.summary
    )


def test_a_name_resolving_to_both_sides_is_not_the_target(
    ctx: CheckContext, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Mid-flip, a name may resolve to the source and the target at once.
    monkeypatch.setattr(synthetic, "resolve", lambda host, port: ["127.0.0.1", "198.51.100.10"])
    result = run(ctx, urls=[{"url": f"{server}/ok", "expect_addresses": ["127.0.0.1"]}])
    assert result.status == Status.FAIL, result
    assert "198.51.100.10" in result.summary

    def unresolvable(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(synthetic, "resolve", unresolvable)
    failed = run(ctx, urls=[{"url": f"{server}/ok", "expect_addresses": ["127.0.0.1"]}])
    assert failed.status == Status.FAIL, failed
    assert "cannot resolve 127.0.0.1" in result_text(failed)


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
    with pytest.raises(pydantic.ValidationError, match="HEAD"):
        # A HEAD answer has no body to find the marker in.
        model.model_validate(
            {"urls": [{"url": "http://x.example", "expect_body_contains": "x"}], "method": "HEAD"}
        )
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"urls": [{"url": "http://x.example", "expect_addresses": ["nope"]}]})
    with pytest.raises(pydantic.ValidationError):
        bad_name = {"name": "X Served", "value": "target"}
        model.model_validate({"urls": [{"url": "http://x.example", "expect_header": bad_name}]})
    parsed = model.model_validate({"urls": ["https://app.example.com/health"]})
    probe = parsed.model_dump()["urls"][0]
    assert probe == {
        "url": "https://app.example.com/health",
        "expected_status": 200,
        "max_latency_ms": 2000,
        "expect_header": None,
        "expect_body_contains": None,
        "expect_addresses": (),
    }
