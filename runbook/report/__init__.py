"""The review report: a view model rendered through templates.

`model` holds the view model's dataclasses; `build` reads and verifies an audit
log into one; `render` turns it into HTML and Markdown through the Jinja2
templates in `templates/`; `command` writes both files (`runbook audit report`).
"""
