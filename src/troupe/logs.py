"""Logging for operators: context fields, JSON lines, and secrets kept out.

Code that knows what a log line is about binds it once; every line logged in
that context (and in the tasks it starts) carries the fields::

    with troupe.logs.bound(run_id=run.id, team=team.name):
        ...                    # every line here has run_id and team

    troupe.logs.bind(conversation_id=cid)   # for the rest of this task

``configure("json")`` (what ``troupe serve --log-format json`` does) writes
one JSON object per line: ``time``, ``level``, ``logger``, ``message``, the
bound fields (``request_id``, ``conversation_id``, ``run_id``, ``team``,
``agent``) and ``exception`` when there is one. In both formats a filter
masks API keys, bearer tokens and passwords (``redact``) in the message and
the traceback.
"""

from __future__ import annotations

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "RedactingFilter",
    "bind",
    "bound",
    "configure",
    "context",
    "redact",
]

import contextvars
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, Literal

import msgspec

FIELDS = ("request_id", "conversation_id", "run_id", "team", "agent")
LogFormat = Literal["text", "json"]

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "troupe_log_context", default=MappingProxyType({})
)


def context() -> Mapping[str, str]:
    """The fields bound in the current context."""
    return _context.get()


def bind(**fields: str | None) -> None:
    """Add ``fields`` to every log line of the current task from now on (None removes one)."""
    _context.set(_merge(_context.get(), fields))


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` to every log line logged inside the ``with`` block."""
    token = _context.set(_merge(_context.get(), fields))
    try:
        yield
    finally:
        _context.reset(token)


def _merge(current: Mapping[str, str], fields: Mapping[str, str | None]) -> Mapping[str, str]:
    merged = dict(current)
    for key, value in fields.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# --- secrets ---------------------------------------------------------------------------

_MASK = "***"
_SECRETS = [
    # Authorization headers: "Bearer <token>", "Basic <credentials>".
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {_MASK}"),
    # Provider key formats: OpenAI / Anthropic (sk-...), Slack (xox?-...), GitHub, Google.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), f"sk-{_MASK}"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{6,}"), f"xox-{_MASK}"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"), _MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), _MASK),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"]*):[^@\s/'\"]+@"), rf"\1:{_MASK}@"),
    # name=value, name: value, "name": "value" for secret-looking names.
    (
        re.compile(
            r"(?i)((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|passwd)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\s\"',&;}]{3,}"
        ),
        rf"\1{_MASK}",
    ),
]


def redact(text: str) -> str:
    """``text`` with API keys, tokens and passwords masked as ``***``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # The traceback is in exc_text now; formatters must not format the raw one again.
            record.exc_info = None
        return True


# --- formats ---------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the fields bound in its context."""

    _encoder = msgspec.json.Encoder()

    def format(self, record: logging.LogRecord) -> str:
        created = time.gmtime(record.created)
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", created) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return self._encoder.encode(line).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _context.get()
        if fields:
            text += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return text


def configure(log_format: LogFormat = "text", level: str | int = "INFO") -> logging.Handler:
    """Send every log line to stderr in ``log_format``, secrets masked; returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # The HTTP clients log every upstream request at INFO: noise, and CPU on the hot path.
    for noisy in ("httpx", "httpx2", "openai", "httpcore", "anthropic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
