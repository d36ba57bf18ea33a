"""The one choke point where secrets are removed before anything is logged.

Both the audit sink and the stdlib logging handlers pass through `redact`, and
botocore/urllib3 are capped at WARNING so request dumps never happen at all.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

MASK = "[REDACTED]"

# Keys whose values are secrets, whatever they hold.
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|signature|credential|authorization|"
    r"access_?key|session_?key|private_?key|x-amz-security-token)",
    re.IGNORECASE,
)
# Keys that look secret by name but are not (identifiers, counts, ARNs).
_PUBLIC_KEY = re.compile(r"^(?:token_?count|next_?token|pagination_?token)$", re.IGNORECASE)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Access key ids (long-term AKIA, temporary ASIA, and the other prefixes).
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{12,20}\b"), MASK),
    # Signed headers and presigned query strings: the names go too, so a log
    # never even shows that a token or signature was there.
    (
        re.compile(
            r"""['"]?(?:x-amz-security-token|authorization)['"]?\s*[:=]\s*"""
            r"""(?:b?'[^']*'|b?"[^"]*"|[^\s,&}]+)""",
            re.IGNORECASE,
        ),
        MASK,
    ),
    (re.compile(r"X-Amz-(?:Signature|Credential|Security-Token)=[^&\s\"']*", re.I), MASK),
    (re.compile(r"\b(?:Signature|Credential)=[^,&\s\"']*"), MASK),
    # The bare header name too (SigV4 debug output lists the signed headers).
    (re.compile(r"x-amz-security-token", re.IGNORECASE), MASK),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), r"\1" + MASK + "@"),
    # key=value and "key": "value" forms of secret-named fields inside free text.
    (
        re.compile(
            r"((?:aws_)?(?:secret_access_key|session_token|password|passwd|secret)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
]

_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears (credentials read at start-up)."""
    if value and len(value) >= 4:
        _extra_secrets.add(value)


def redact_text(text: str) -> str:
    for secret in _extra_secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """Return a copy of `value` with secrets masked, recursing into containers."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if (
                isinstance(key, str)
                and _SECRET_KEY.search(key)
                and not _PUBLIC_KEY.match(key)
                and item not in (None, "", [], {})
                and not isinstance(item, bool | int | float)
            ):
                out[key] = MASK
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


_FORMATTER = logging.Formatter()


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        message = str(record.msg)
    record.msg = redact_text(message)
    record.args = None
    # Handlers format tracebacks later; format now, redacted, and they reuse it.
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(_FORMATTER.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


_installed = False


def install_logging(level: int = logging.WARNING, log_file: Path | None = None) -> None:
    """Cap the chatty AWS loggers and redact every stdlib log record as it is made.

    The record factory is the choke point: every record passes through it,
    whichever handler (ours, a test's, a library's) later writes it.
    """
    global _installed
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    root = logging.getLogger()
    if log_file is not None:
        # Under the terminal app, stderr is the screen: log lines would garble it.
        for handler in list(root.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                root.removeHandler(handler)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        root.addHandler(file_handler)
        root.setLevel(min(root.level or level, level))
    elif not root.handlers:
        logging.basicConfig(level=level)
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True
