"""One place that maps errors to OpenAI-shaped JSON: ``{"error": {...}}``."""

from __future__ import annotations

__all__ = [
    "error_response_body",
    "exception_handlers",
    "http_exception_handler",
    "troupe_error_handler",
]

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from troupe.errors import TroupeError
from troupe.logs import redact
from troupe.wire import error_body

logger = logging.getLogger("troupe.server")

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limit_exceeded",
}


def error_response_body(
    message: str, type: str, code: str | None, param: str | None = None
) -> bytes:
    # Last line of defence: no key, token or password goes back to a client.
    body = error_body(redact(message), type=type, code=code, param=param)
    return msgspec.json.encode({"error": body})


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def troupe_error_handler(_: Request[Any, Any, Any], exc: TroupeError) -> Response[bytes]:
    error_type = (
        _TYPES.get(exc.status_code, exc.error_type) if exc.status_code < 500 else exc.error_type
    )
    headers = {"www-authenticate": "Bearer"} if exc.status_code == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        headers = {"retry-after": str(retry_after)}
    return _response(
        exc.status_code, error_response_body(exc.message, error_type, exc.code, exc.param), headers
    )


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        logger.error("unhandled error on %s %s: %s", request.method, request.url.path, exc.detail)
        message = "The server had an error while processing your request."
    else:
        message = str(exc.detail)
        if status == 404 and message == "Not Found":
            message = f"Unknown path {request.url.path}"
        elif status == 413:
            message = "The request body is too large."
    error_type = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    # Headers the exception carries (Allow on a 405) are part of the answer.
    return _response(
        status,
        error_response_body(message, error_type, _CODES.get(status, "server_error")),
        dict(exc.headers or {}),
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "The server had an error while processing your request."
    return _response(500, error_response_body(message, "server_error", "internal_error"))


exception_handlers: ExceptionHandlersMap = {
    TroupeError: troupe_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}
