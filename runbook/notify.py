"""Notifications: flips, rollbacks, waivers, approvals, watch breaches, lease takeovers.

`[notify]` names an SNS topic and/or a webhook (Slack-compatible JSON: `{"text": ...}`).
The notifier is an audit sink: it sees every record after it is durable, picks
the ones people must hear of, and sends them from a background thread, so a
notification never blocks or delays an action. It is best effort: a failed one
is audited (`notify.failed`, with the channel and the error) and not retried.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runbook.audit.log import AuditLog
from runbook.aws.session import SessionFactory
from runbook.formatting import error_line
from runbook.model import Runbook

if TYPE_CHECKING:
    from botocore.config import Config

NOTIFY_FAILED = "notify.failed"
SEND_TIMEOUT_S = 5.0
CLOSE_WAIT_S = 2.0  # at exit, sends still queued get this long, then are dropped


def sns_config() -> Config:
    """Short timeouts, one retry. botocore's config (its HTTP stack) loads with the
    first send, not with this module: the app paints before botocore loads."""
    from botocore.config import Config

    return Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 2})


def post_json(url: str, body: bytes, timeout: float) -> None:
    import urllib.request  # with the first webhook, not before the app's first paint

    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    # http(s) only: the model's pattern refuses any other scheme.
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def headline(model: Runbook, record: dict[str, Any]) -> str | None:
    """The message for a record people must hear of, or None."""
    event, step, d = record.get("event"), record.get("step"), record.get("details") or {}
    flips = {s.id for s in model.steps if s.action.kind == "dns.flip"}
    what = None
    if event == "action.intent" and step in flips:
        what = f"DNS flip starting ({step})"
    elif event in ("action.outcome", "action.reconciled") and step in flips:
        what = f"DNS flip {'done' if d.get('ok') else 'FAILED'} ({step}): {d.get('summary')}"
    elif event == "rollback.intent":
        what = "DNS ROLLBACK starting"
    elif event == "rollback.outcome":
        what = f"DNS rollback {'confirmed' if d.get('confirmed') else 'NOT confirmed'}"
    elif event == "gate.waived":
        what = f"gate of {step} WAIVED: {d.get('reason')}"
    elif event == "gate.finished" and d.get("passed") is True and step is not None:
        needs = next((s.approvals for s in model.steps if s.id == step), 0)
        what = f"approval requested: {step} passed its gate" if needs else None
    elif event == "approval.given":
        what = f"{step} approved by {d.get('approver')}"
    elif event == "watch.breached":
        what = f"watch BREACHED on {step}: {d.get('summary') or d.get('check')}"
    elif event == "lease.taken_over":
        previous = d.get("previous") or {}
        what = f"lease taken over from {previous.get('local_user')} ({d.get('reason')})"
    if what is None:
        return None
    operator = record.get("operator") or {}
    who = operator.get("aws_arn") or operator.get("local_user") or "?"
    return f"[{model.migration.environment}] {model.migration.name}: {what} (by {who})"


class Notifier:
    """An `AuditLog` sink that sends in the background; never raises into the writer."""

    def __init__(
        self,
        model: Runbook,
        sessions: SessionFactory,
        audit: AuditLog,
    ) -> None:
        assert model.notify is not None
        self.config = model.notify
        self.model = model
        self.sessions = sessions
        self.audit = audit
        self._queue: queue.Queue[tuple[dict[str, Any], str] | None] = queue.Queue()
        self._sending: dict[str, Any] | None = None  # the record whose send is under way
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def push(self, record: dict[str, Any]) -> None:
        if str(record.get("event", "")).startswith("notify."):
            return
        text = headline(self.model, record)
        if text is not None:
            self._queue.put((record, text))

    def close(self) -> None:
        """Give the sends still queued `CLOSE_WAIT_S`, then audit each one not done: a dead
        webhook that never answers fails only after its timeout, after the process left."""
        self._queue.put(None)
        self._thread.join(CLOSE_WAIT_S)
        if not self._thread.is_alive():
            return
        dropped = [self._sending] if self._sending is not None else []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                dropped.append(item[0])
        why = TimeoutError(f"not confirmed sent: still waiting after {CLOSE_WAIT_S:.0f}s at exit")
        for record in dropped:
            for channel, _send in self._channels():
                self._failed(channel, record, why)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            record, text = item
            self._sending = record
            for channel, send in self._channels():
                try:
                    send(record, text)
                except Exception as exc:  # best effort: any failure is audited, never raised
                    self._failed(channel, record, exc)
            self._sending = None

    def _channels(self) -> list[tuple[str, Callable[[dict[str, Any], str], None]]]:
        found: list[tuple[str, Callable[[dict[str, Any], str], None]]] = []
        if self.config.webhook_url:
            found.append(("webhook", self._webhook))
        if self.config.sns_topic_arn:
            found.append(("sns", self._sns))
        return found

    def _webhook(self, record: dict[str, Any], text: str) -> None:
        body = json.dumps({"text": text, "event": record.get("event"), "seq": record.get("seq")})
        post_json(str(self.config.webhook_url), body.encode(), SEND_TIMEOUT_S)

    def _sns(self, record: dict[str, Any], text: str) -> None:
        client = self.sessions.client(self.config.account, "sns", config=sns_config())
        client.publish(
            TopicArn=self.config.sns_topic_arn,
            Subject=text[:100],
            Message=json.dumps({"text": text, "record": record}, default=str),
        )

    def _failed(self, channel: str, record: dict[str, Any], exc: BaseException) -> None:
        try:
            self.audit.record(
                NOTIFY_FAILED,
                step=record.get("step"),
                channel=channel,
                about=record.get("event"),
                about_seq=record.get("seq"),
                error=error_line(exc),
            )
        except Exception:  # the log is closed or failing: the writer already knows
            return


def attach(model: Runbook, sessions: SessionFactory, audit: AuditLog) -> None:
    """Notify from this log when the runbook has `[notify]`."""
    if model.notify is not None:
        audit.sinks.append(Notifier(model, sessions, audit))
