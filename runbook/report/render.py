"""Rendering the view model through the templates in `templates/`: HTML and Markdown.

Both formats say the same things; they differ in escaping, and each value is
escaped for the format it lands in, after being redacted once more:

- HTML (`report.html.j2`): autoescaping on. Every `{{ value }}` goes through
  `html_text` (redact, then `html.escape` with quotes), so a forgotten filter
  cannot leak markup; macros and `Markup` pass through as already safe (a literal
  written in the template is trusted text, escaped by Jinja's own escape). The page
  has inline CSS only, no script, and a Content-Security-Policy that forbids
  loading anything, so opening it sends nothing anywhere.
- Markdown (`report.md.j2`): autoescaping off, and the explicit `md` filter makes
  a value one inert line (no markup, no raw HTML, no table-breaking pipe); `code`
  and `fence` make code spans and fenced blocks. Their results are `MdText`; any
  other value printed is escaped with `md` anyway, so a forgotten filter fails
  safe here too (which is also why that template uses no macros: a macro's output
  is plain text and would be escaped a second time).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from runbook.aws.redact import redact_text
from runbook.formatting import duration, plural, printable, utc_time
from runbook.report.model import Previous, Report, unique
from runbook.report.outcome import gate_verdict, outcome

TIMELINE_LIMIT = 5000  # beyond this the timeline is `runbook audit show`'s job

HEAD_NOTE = (
    "Compare the head hash with the one printed when the run ended and written "
    "down off the machine: a chain alone cannot reveal a truncated tail."
)
NO_PREVIOUS = (
    "No previous run given: durations are not compared. Pass --previous FILE "
    "(for live, the rehearsal's audit log) to compare."
)


# --- shared by both formats ------------------------------------------------------------


def fmt_delta(delta: float | None, base: float | None) -> str:
    """`+4.0s (+50%)`: a change in duration, relative to `base` when there is one."""
    if delta is None:
        return "-"
    text = ("+" if delta >= 0 else "-") + duration(abs(delta))
    if base:
        text += f" ({delta / base:+.0%})"
    return text


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def status_word(status: str) -> str:
    return status.upper() if status else "?"


def chain_lines(report: Report) -> tuple[str, list[str]]:
    """The chain banner's title and explanation."""
    c = report.chain
    more: list[str] = []
    if c.state == "intact":
        title = f"Chain intact: {plural(c.records_verified, 'record')} verified"
    elif c.state == "torn tail":
        title = f"Chain has a torn tail at line {c.bad_line}"
        more = [
            f"{c.headline}.",
            "The last line was cut short by a crash during a write; it was never "
            "acknowledged. Every complete record before it verifies.",
        ]
    else:
        title = f"NOT TRUSTWORTHY: chain broken at seq {c.bad_seq} (line {c.bad_line})"
        more = [
            f"{c.headline}.",
            f"Only the first {plural(c.records_verified, 'record')} verified. The rest is shown "
            f"as read ({plural(report.unverified_count, 'record')} flagged UNVERIFIED) and must "
            "not be relied on.",
        ]
    if report.unreadable_lines:
        lines = ", ".join(str(n) for n in report.unreadable_lines[:20])
        more.append(f"Unreadable lines left out: {lines}.")
    return title, more


def previous_runs(previous: Previous) -> str:
    return ", ".join(
        f"{r.run_id} ({', '.join(r.environments)}, started {utc_time(r.first.time)})"
        for r in previous.runs
    )


def glance(report: Report) -> list[str]:
    """The counts a reviewer reads first; each one is detailed further down."""
    actions = report.actions
    failed = sum(1 for a in actions if a.ok is False)
    open_ = sum(1 for a in actions if a.ok is None)
    gates_failed = sum(1 for g in report.gates if g.passed is not True)
    rollbacks = report.rollbacks
    confirmed = sum(1 for r in rollbacks if r.confirmed)
    # A declined confirmation sent nothing: it is not a rollback that failed to confirm.
    declined = sum(1 for r in rollbacks if r.declined is not None)
    operators = unique(w for r in report.runs for w in r.who)
    sessions = sum(len(r.sessions) for r in report.runs)
    return [
        f"{len(report.runs)} run(s), {sessions} session(s), by {'; '.join(operators) or '?'}",
        f"{len(actions)} action(s): {len(actions) - failed - open_} ok, {failed} failed, "
        f"{open_} without an outcome, {sum(1 for a in actions if a.reconciled)} reconciled "
        "after a crash",
        f"{len(report.gates)} gate run(s), {gates_failed} not passed; "
        f"{len(report.waivers)} waiver(s)",
        f"{len(rollbacks) - declined} rollback(s): {confirmed} confirmed, "
        f"{len(rollbacks) - declined - confirmed} NOT confirmed; "
        f"{declined} declined at the confirmation (nothing sent)",
    ]


def _context(report: Report) -> dict[str, Any]:
    title, more = chain_lines(report)
    return {
        "report": report,
        "outcome": outcome(report),
        "chain_title": title,
        "chain_more": more,
        "head_note": HEAD_NOTE,
        "no_previous": NO_PREVIOUS,
        "glance": glance(report),
        "previous_runs": previous_runs(report.previous) if report.previous else "",
        "multi": len(report.runs) > 1,  # a run column in the durations table
        "shown": report.timeline[:TIMELINE_LIMIT],
        "hidden": max(0, len(report.timeline) - TIMELINE_LIMIT),
    }


def _environment(*, autoescape: bool, finalize: Callable[[Any], Any]) -> Environment:
    env = Environment(
        loader=PackageLoader("runbook.report", "templates"),
        autoescape=autoescape,
        finalize=finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        utc=utc_time,
        duration=duration,
        delta=fmt_delta,
        json=to_json,
        status_word=status_word,
        verdict=gate_verdict,
    )
    return env


# --- HTML -------------------------------------------------------------------------------


def html_text(value: Any) -> Markup:
    """Redacted and escaped: audit values are operator input and AWS responses."""
    if value is None:
        return Markup("-")
    return Markup(html.escape(printable(redact_text(str(value)), one_line=False), quote=True))


def _html_finalize(value: Any) -> Any:
    return value if hasattr(value, "__html__") else html_text(value)


def css_class(name: Any) -> str:
    """A CSS class derived from a value: only [a-z0-9-] survive."""
    return re.sub(r"[^a-z0-9-]", "-", str(name).lower())


def pretty(value: Any) -> str:
    """Text as it is; anything else as indented JSON."""
    return value if isinstance(value, str) else to_json(value)


@cache
def _html_env() -> Environment:
    env = _environment(autoescape=True, finalize=_html_finalize)
    env.filters.update(cls=css_class, pretty=pretty)
    return env


def render_html(report: Report) -> str:
    """One self-contained page: inline CSS, no script, nothing fetched."""
    return _html_env().get_template("report.html.j2").render(_context(report))


# --- Markdown ---------------------------------------------------------------------------


class MdText(str):
    """Text already made safe for Markdown (what `markupsafe.Markup` is to HTML)."""

    __slots__ = ()


_MD_SPECIAL = re.compile(r"([\\`*\[\]|~])")
# An underscore inside a word (dns.lower_ttl) cannot start emphasis; only escape the rest.
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(value: Any) -> MdText:
    """Redacted, one line, and inert: no markup, no raw HTML, no table-breaking pipes."""
    if value is None:
        return MdText("-")
    text = printable(redact_text(str(value)).replace("\r", " ").replace("\n", " "))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MdText(_MD_UNDERSCORE.sub(r"\\_", _MD_SPECIAL.sub(r"\\\1", text)))


def md_code(value: Any) -> MdText:
    text = printable(redact_text(str(value)), one_line=False)
    if any(ch in text for ch in "`|\r\n") or not text:
        return md(text)  # a code span cannot hold these safely inside a table
    return MdText(f"`{text}`")


def md_fence(text: str, lang: str = "") -> MdText:
    text = printable(redact_text(text), one_line=False)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return MdText(f"{fence}{lang}\n{text}\n{fence}")


def md_indented(text: MdText, width: int) -> MdText:
    """Every line after the first indented (a block inside a list item)."""
    return MdText(text.replace("\n", "\n" + " " * width))


def md_unverified(verified: bool) -> MdText:
    return MdText("" if verified else " **UNVERIFIED**")


def md_result(ok: bool | None, reconciled: bool = False) -> MdText:
    word = {True: "ok", False: "**FAILED**", None: "**no outcome**"}[ok]
    return MdText(f"{word} (reconciled)" if reconciled else word)


def _md_finalize(value: Any) -> MdText:
    return value if isinstance(value, MdText) else md(value)


@cache
def _md_env() -> Environment:
    env = _environment(autoescape=False, finalize=_md_finalize)
    env.filters.update(md=md, code=md_code, fence=md_fence, indented=md_indented)
    env.globals.update(unverified=md_unverified, result=md_result)
    return env


def render_markdown(report: Report) -> str:
    """The same report as Markdown, for the change ticket."""
    return _md_env().get_template("report.md.j2").render(_context(report))
