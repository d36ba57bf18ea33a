"""The templates' escaping: a value printed without a filter still comes out inert."""

from __future__ import annotations

from importlib.resources import files

from runbook.aws.redact import MASK
from runbook.report.render import _html_env, _md_env, md, md_code

HOSTILE = '<a href="https://evil.example">x</a> | *b* `c` AKIAABCDEFGHIJKLMNOP'


def test_html_escapes_and_redacts_every_printed_value() -> None:
    page = (
        _html_env()
        .from_string("<p>{{ value }}</p><p>{{ missing }}</p>")
        .render(value=HOSTILE, missing=None)
    )
    assert "<a" not in page and "&lt;a href=&quot;https://evil.example&quot;&gt;" in page
    assert "AKIA" not in page and MASK in page
    assert page.endswith("<p>-</p>")


def test_markdown_escapes_a_value_printed_without_a_filter() -> None:
    env = _md_env()
    bare = env.from_string("{{ value }}").render(value=HOSTILE)
    assert bare == md(HOSTILE) == env.from_string("{{ value|md }}").render(value=HOSTILE)
    assert "<a" not in bare and "\\|" in bare and "AKIA" not in bare
    # Already-escaped text is not escaped twice.
    assert env.from_string("{{ value|code }}").render(value="dns.ttl") == md_code("dns.ttl")


def test_templates_are_package_data() -> None:
    templates = files("runbook.report") / "templates"
    assert {p.name for p in templates.iterdir() if p.name.endswith(".j2")} == {
        "report.html.j2",
        "report.md.j2",
    }
