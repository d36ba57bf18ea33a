"""An HTML error page from a proxy (or the emulator) never becomes a summary.

botocore only recognises a 5xx page that starts with `<html>`; one that opens
with `<!DOCTYPE html>` is parsed as the service's error and its whole body
becomes the message. These go through a real client and botocore's parsers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from runbook.checkapi import CheckContext, CheckResult, Status
from runbook.formatting import one_line
from runbook.registry import CheckRegistry
from runbook.runner import CheckJob, run_one

PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>502 Bad Gateway</title>
<style>body { color: red }</style><script>track()</script></head>
<body><h1>Bad Gateway</h1><p>The proxy server received an invalid
response from an upstream server.</p><hr><address>nginx/1.25</address></body></html>
"""


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body


def _html_502(request: Any, **_kwargs: Any) -> AWSResponse:
    return AWSResponse(request.url, 502, {"content-type": "text/html"}, _Raw(PAGE))


def _proxied(ctx: CheckContext, service: str) -> CheckContext:
    """Every request of the target's (cached) `service` client answered by a proxy's page."""
    # First: in-process moto answers from its own before-send handler.
    ctx.client("target", service).meta.events.register_first("before-send", _html_502)
    return ctx


def _job(check_id: str) -> CheckJob:
    cls = CheckRegistry.discover(plugins=False).get(check_id)
    return CheckJob(None, cls, cls.params_model.model_validate({}), True, 30.0)


def _assert_readable(result: CheckResult) -> None:
    assert result.status is Status.ERROR
    assert "\n" not in result.summary
    assert "<" not in result.summary
    assert "502 Bad Gateway" in result.summary  # the page's title says what happened
    page = [d for d in result.details if d.startswith("page text:")]
    assert len(page) == 1 and "The proxy server received an invalid response" in page[0]
    assert "track()" not in page[0] and "color: red" not in page[0]
    assert all("<" not in d for d in result.details)


@pytest.mark.parametrize(
    ("check_id", "service"),
    [("alarms.topics", "cloudwatch"), ("codestar.connections", "codestar-connections")],
)
def test_an_html_5xx_is_one_line_with_the_page_in_details(
    check_context: CheckContext, check_id: str, service: str
) -> None:
    # alarms.topics speaks the query protocol (XML), codestar JSON: both used to
    # carry the page, newlines and all, into the summary.
    _assert_readable(run_one(_job(check_id), _proxied(check_context, service)))


def test_a_check_that_puts_the_page_in_its_own_summary_is_cut_down_too() -> None:
    raw = (
        "DescribeTableStatistics failed: An error occurred (502) when calling the "
        f"DescribeTableStatistics operation: {PAGE.decode()}"
    )
    result = CheckResult.failed(raw, ["first detail", "a\nmulti-line detail"])
    assert result.summary == (
        "DescribeTableStatistics failed: An error occurred (502) when calling the "
        "DescribeTableStatistics operation: an HTML page (502 Bad Gateway) instead of an "
        "AWS response"
    )
    assert result.details[0] == (
        "page text: Bad Gateway The proxy server received an invalid response from an "
        "upstream server. nginx/1.25"
    )
    assert result.details[1:] == ["first detail", "a", "multi-line detail"]


def test_a_long_page_is_trimmed_and_a_long_line_kept_whole_in_details() -> None:
    summary, details = one_line("<html><body>" + "x " * 2000 + "</body></html>")
    assert summary == "an HTML page instead of an AWS response"
    assert len(details[0]) <= len("page text: ") + 500
    long = "y" * 1000
    summary, details = one_line(long)
    assert len(summary) == 240 and summary.endswith("…")
    assert details == [long]


def test_detail_lines_keep_their_indent() -> None:
    result = CheckResult.failed("x", ["stack app:", "  OrdersTable: MODIFIED"])
    assert result.details == ["stack app:", "  OrdersTable: MODIFIED"]
