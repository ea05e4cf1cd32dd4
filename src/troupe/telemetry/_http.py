"""HTTP's part: requests counted and traced (continuing a W3C ``traceparent``), ``/metrics``."""

from __future__ import annotations

__all__ = ["http_telemetry", "metrics_handler"]

import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Response, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from troupe.telemetry._state import active


def http_telemetry(app: ASGIApp) -> ASGIApp:
    """Litestar middleware: each request counted by route and status, and its server span."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or active.off:
            await app(scope, receive, send)
            return
        metrics, tracing = active.metrics, active.tracing
        method = scope["method"]
        route = scope.get("path_template") or scope["path"]
        status = 500
        streaming = False
        span = token = None
        if tracing is not None:
            from opentelemetry.trace import SpanKind

            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            span = tracing.start(
                f"{method} {route}",
                {"http.request.method": method, "http.route": route, "url.path": scope["path"]},
                parent=tracing.extract(headers),
                kind=SpanKind.SERVER,
            )
            token = tracing.attach(span)

        async def observed(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                        streaming = metrics is not None
                if streaming and metrics is not None:
                    metrics.open_streams.inc()
            await send(message)

        started = time.perf_counter()
        try:
            await app(scope, receive, observed)
        finally:
            if metrics is not None:
                if streaming:
                    metrics.open_streams.dec()
                metrics.http_requests.labels(method, route, str(status)).inc()
                metrics.http_duration.labels(method, route).observe(time.perf_counter() - started)
            if tracing is not None and span is not None:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    from troupe.telemetry._tracing import fail

                    fail(span, str(status))
                span.end()
                tracing.detach(token)

    return middleware


def metrics_handler(
    before_request: Callable[[Any], Awaitable[Any]] | None = None,
) -> HTTPRouteHandler:
    """``GET /metrics``: the scrape, in Prometheus's text format (``before_request``: who may
    scrape, on the API's port)."""

    @get("/metrics", sync_to_thread=False, include_in_schema=False, before_request=before_request)
    def scrape() -> Response[bytes]:
        from troupe.telemetry._metrics import CONTENT_TYPE, render

        return Response(render(), media_type=CONTENT_TYPE)

    return scrape
