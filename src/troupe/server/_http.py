"""HTTP/1.1 for ``troupe serve``: uvicorn's parser with the request head bounded.

uvicorn's httptools protocol keeps an unfinished header in memory whatever
its size: four 64 MiB headers, sent before any authentication, cost the
server 200 MB. Here the request line and headers together may take
``MAX_HEAD_BYTES``; a client that sends more gets ``431 Request Header Fields
Too Large`` and its connection is closed. Without httptools, h11 is used
with the same bound (``h11_max_incomplete_event_size``).
"""

from __future__ import annotations

__all__ = ["MAX_HEAD_BYTES", "http_options"]

from typing import Any

import msgspec

from troupe.wire import error_body

# Browsers and proxies send a few KiB; nginx's default large buffers total 32 KiB.
MAX_HEAD_BYTES = 64 * 1024


def _rejection() -> bytes:
    body = msgspec.json.encode(
        {
            "error": error_body(
                f"the request line and headers exceed {MAX_HEAD_BYTES} bytes",
                type="invalid_request_error",
                code="request_header_fields_too_large",
            )
        }
    )
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def _bounded_httptools() -> type[Any] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is not installed
        return None

    rejection = _rejection()

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """Counts the bytes of each request's head; past the bound, answers 431 and closes."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True
            self._head_bytes = 0

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_bytes = 0

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._in_head = False
                    self.logger.warning("request head over %d bytes: 431", MAX_HEAD_BYTES)
                    self.transport.write(rejection)
                    self.transport.close()
                    return
            super().data_received(data)

    return BoundedHttpToolsProtocol


def http_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` that bound the request head."""
    protocol = _bounded_httptools()
    if protocol is not None:
        return {"http": protocol}
    return {"http": "h11", "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
