"""Under the DNS line: who is acting on the run now, and whether the shared run answers.

Shown only when there is something to say for a run kept in the state directory:
another process holds the lease. For a run on S3 it is always there, so everyone
following it sees the bucket, who acts, and when S3 stopped answering. Read from
what the app last saw, never from AWS: a redraw makes no call.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widgets import Static

from screens.contract import runbook_app
from screens.widgets import Ticks


def lease_text(app: Any, now: float) -> Text | None:
    runtime = app.runtime
    if runtime is None:
        return None
    backend = runtime.backend
    shared = backend is not None and backend.shared
    holder = app.lease_holder
    if holder is not None:
        if holder.alive(now):
            text = Text("Acting now: ", style="bold yellow")
            text.append(holder.describe(now))
            text.append(" · T takes the lease over", style="bold")
        else:
            text = Text("Lease of a dead holder: ", style="bold")
            text.append(holder.describe(now))
            text.append(
                f" (no heartbeat for {now - holder.heartbeat:.0f}s): the next action takes it over"
            )
    elif shared:
        text = Text("Team run ", style="bold")
        text.append(backend.description)
        text.append(" · nobody is acting")
    else:
        return None
    if app.shared_trouble is not None:
        text = Text("S3 not answering", style="bold white on red")
        text.append(": this machine works from its mirror; rollback never waits on S3. ")
        text.append(f"{backend.description}: {app.shared_trouble}", style="dim")
    return text


class LeaseLine(Ticks, Static):
    DEFAULT_CSS = """
    LeaseLine { height: auto; max-height: 2; padding: 0 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.redraw()

    def tick(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        text = lease_text(runbook_app(self), time.time())
        self.display = text is not None
        if text is not None:
            width = (self.size.width or self.app.size.width) - 2
            text.truncate(width * 2, overflow="ellipsis")
            self.update(text)
