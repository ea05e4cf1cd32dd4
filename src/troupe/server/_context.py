"""Each request's id: taken from ``X-Request-Id`` or made, bound to its log lines, sent back.

A gateway's id is kept (when it is a plain token of at most 128 characters),
so one id follows the request through the gateway's logs and troupe's.
"""

from __future__ import annotations

__all__ = ["REQUEST_ID_HEADER", "raw_header", "request_context"]

import re
from collections.abc import Awaitable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from troupe import logs
from troupe._ids import unique_hex

REQUEST_ID_HEADER = "x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")


def raw_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lowercase), without parsing the others (Litestar's
    ``Headers`` decodes them all)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _incoming(scope: Scope) -> str | None:
    value = raw_header(scope, b"x-request-id")
    return value.decode() if value is not None and _VALID.fullmatch(value) else None


def request_context(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: binds ``request_id`` for the request's log lines and returns it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = _incoming(scope) or f"req_{unique_hex()}"
        header = (b"x-request-id", request_id.encode())

        def send_with_id(message: Message) -> Awaitable[None]:
            # The inner send's awaitable itself: no coroutine of its own per chunk sent.
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            return send(message)

        with logs.bound(request_id=request_id):
            await app(scope, receive, send_with_id)

    return middleware
