"""The handoff as Markdown, through `templates/handoff.md.j2`.

Values are made inert with the review report's Markdown filters (`md`, `code`,
`fence`): ARNs, evidence lines and commands come from the runbook and from AWS.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from runbook.formatting import utc_time
from runbook.handoff.model import PHASES, Handoff, Request
from runbook.report.render import MdText, md, md_code, md_fence

INTRO = (
    "This tool only reads the source account. Every change the migration needs there is "
    "listed below, in the order it is needed: please make each one, then tell the operator, "
    "who re-runs the check named under it. Values in <angle brackets> are yours to fill in "
    "(or appear here once a check has read them)."
)
NO_EVIDENCE = "No run yet: ARNs the checks would read are placeholders."


def _finalize(value: object) -> MdText:
    return value if isinstance(value, MdText) else md(value)


def expect_text(request: Request) -> str:
    verify = request.verify
    where = f"step `{verify.step}`" if verify.step else "no step of this runbook runs it yet"
    return f"`{verify.check}` at {where}, expected: {verify.expect}"


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("runbook.handoff", "templates"),
        autoescape=False,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, code=md_code, fence=md_fence, utc=utc_time)
    return env


def render_markdown(handoff: Handoff) -> str:
    phases = [(title, handoff.in_phase(phase)) for phase, title in PHASES.items()]
    return (
        _env()
        .get_template("handoff.md.j2")
        .render(
            handoff=handoff,
            phases=[(title, requests) for title, requests in phases if requests],
            intro=INTRO,
            no_evidence=NO_EVIDENCE,
            verify_line=lambda r: MdText(md(expect_text(r)).replace("\\`", "`")),
        )
    )
