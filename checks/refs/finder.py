"""What `refs.source_account` finds, and how: the matcher, excerpts, policy documents.

Not a check: the scanners in `checks/refs/scanners.py` and
`checks/refs/policies.py` report into one `Finder`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from botocore.exceptions import ClientError

from runbook.aws.errors import error_code, is_access_denied

# Values under names like these are shown as hidden: they may be credentials.
SECRETISH = re.compile(r"pass|secret|token|credential|private", re.IGNORECASE)
_CONTEXT = 40
# A token around the ID (an ARN, a URL, a host name) stops at these; at most this long.
_TOKEN_STOP = re.compile(r"[\s\"'`,;&@<>()\[\]{}=|\\]")
_TOKEN_MAX = 60


@dataclass(frozen=True)
class Reference:
    service: str
    resource: str
    key: str
    excerpt: str
    ecr_image: bool
    expected: str = ""
    """Why this reference is there by design (e.g. the S3 replication grant), or ""."""

    @property
    def label(self) -> str:
        return f"{self.service}:{self.resource}:{self.key}"


@dataclass(frozen=True)
class Unread:
    """What could not be scanned: a whole service (resource "") or one resource."""

    service: str
    resource: str
    reason: str

    @property
    def text(self) -> str:
        return f"{self.service}{' ' + self.resource if self.resource else ''} ({self.reason})"


class Finder:
    """Collects references to one account ID, with where each was found."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.pattern = re.compile(rf"(?<![0-9]){re.escape(account_id)}(?![0-9])")
        self.ecr = re.compile(rf"(?<![0-9]){re.escape(account_id)}\.dkr\.ecr\.")
        self.found: list[Reference] = []
        self.scanned: dict[str, int] = {}
        self.unread: list[Unread] = []
        self.secure_strings: list[str] = []

    def scan(
        self,
        service: str,
        resource: str,
        key: str,
        value: Any,
        *,
        reference: bool = False,
        excerpt: Literal["context", "token"] = "context",
        secret: bool | None = None,
        expected: str = "",
    ) -> None:
        """Record `value` if it names the account.

        `reference`: an ARN or name, never a secret. `secret` overrides the guess
        from `key`. `excerpt="token"` shows only the ARN/URL-like token around the
        ID, for values that may hold other things (parameters).
        """
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # an account ID written as a JSON number in a template
        if not isinstance(value, str):
            return
        match = self.pattern.search(value)
        if match is None:
            return
        hidden = bool(SECRETISH.search(key)) if secret is None else secret
        if hidden and not reference:
            shown = "(value hidden)"
        elif excerpt == "token":
            shown = _token(value, match.start(), match.end())
        else:
            start, end = max(0, match.start() - _CONTEXT), match.end() + _CONTEXT
            shown = value[start:end]
            shown = ("..." if start else "") + shown + ("..." if end < len(value) else "")
        ecr = self.ecr.search(value) is not None
        self.found.append(Reference(service, resource, key, shown, ecr, expected))

    def count(self, service: str) -> None:
        self.scanned[service] = self.scanned.get(service, 0) + 1

    def scan_document(
        self,
        service: str,
        resource: str,
        where: str,
        raw: Any,
        *,
        expected: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        """Scan a JSON document (a policy, a definition) leaf by leaf, naming the path.

        `expected(statement)` says why a policy statement names the source by design.
        """
        doc = load_policy(raw)
        if isinstance(doc, str):  # not JSON: line by line
            for number, line in enumerate(doc.splitlines(), start=1):
                self.scan(service, resource, f"{where} line {number}", line, reference=True)
            return
        statements = doc.get("Statement") if isinstance(doc, dict) else None
        if isinstance(statements, dict):
            statements = [statements]  # a single statement may be written without a list
        if not isinstance(statements, list):
            for path, leaf in walk(doc):
                self.scan(service, resource, f"{where} {path}".rstrip(), leaf, reference=True)
            return
        for key, value in doc.items():
            if key != "Statement":
                for path, leaf in walk({key: value}):
                    self.scan(service, resource, f"{where} {path}", leaf, reference=True)
        for index, statement in enumerate(statements):
            why = expected(statement) if expected and isinstance(statement, dict) else ""
            for path, leaf in walk(statement, f"Statement[{index}]"):
                self.scan(service, resource, f"{where} {path}", leaf, reference=True, expected=why)

    @contextmanager
    def reading(self, service: str, resource: str = "") -> Iterator[None]:
        """An access denial inside is recorded as unread (the rest goes on); others raise."""
        try:
            yield
        except ClientError as exc:
            if not is_access_denied(exc):
                raise
            self.unread.append(
                Unread(service, resource, f"{exc.operation_name}: {error_code(exc)}")
            )


def _token(value: str, start: int, end: int) -> str:
    """The run of ARN/URL characters around [start, end), bounded on each side."""
    left = start
    while left > 0 and start - left < _TOKEN_MAX and not _TOKEN_STOP.match(value[left - 1]):
        left -= 1
    right = end
    while right < len(value) and right - end < _TOKEN_MAX and not _TOKEN_STOP.match(value[right]):
        right += 1
    return ("..." if left else "") + value[left:right] + ("..." if right < len(value) else "")


def load_policy(raw: Any) -> Any:
    """A policy document as a dict, whatever the SDK handed over; text if it is not JSON.

    IAM returns documents URL-encoded (RFC 3986), which botocore decodes for IAM
    operations; other services return JSON text; some responses are already dicts.
    """
    if not isinstance(raw, str):
        return raw
    for text in (raw, unquote(raw)):
        try:
            return json.loads(text)
        except ValueError:
            continue
    return raw


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf) for every leaf of a decoded JSON document; keys count too."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub + " (key)", key
            yield from walk(value, sub)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
    else:
        yield path, node
