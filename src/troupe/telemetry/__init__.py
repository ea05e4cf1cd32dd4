"""Metrics and traces: what an operator watches a troupe server with.

- **Metrics** (``server.metrics.enabled``): Prometheus series at ``GET /metrics``,
  or on a port of their own (``server.metrics.port``); ``PROMETHEUS_MULTIPROC_DIR``
  for several worker processes.
- **Traces** (``OTEL_EXPORTER_OTLP_ENDPOINT``): OpenTelemetry spans after the GenAI
  semantic conventions, exported with OTLP/HTTP (``troupe-server[otel]``).

Runs are read off their events (``RunTelemetry``, a run observer); the two
boundaries no event marks are measured where they are crossed: model calls
(``model_stream``) and store operations (``measured_store``). Switched off,
neither ``prometheus_client`` nor OpenTelemetry is imported and those
boundaries are the bare calls.
"""

from __future__ import annotations

__all__ = ["Telemetry", "model_stream"]

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from troupe.telemetry._model import model_stream
from troupe.telemetry._state import active

if TYPE_CHECKING:
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import Middleware

    from troupe.config.spec import MetricsSpec
    from troupe.runs import RunObserver
    from troupe.store import ConversationStore
    from troupe.telemetry._metrics import Metrics
    from troupe.telemetry._tracing import Tracing

logger = logging.getLogger("troupe.telemetry")

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class Telemetry:
    """What one server turns on, from its ``server.metrics`` and the ``OTEL_*`` variables."""

    def __init__(self, spec: MetricsSpec | None = None, env: Mapping[str, str] | None = None):
        # (Lower layers import this package for ``model_stream``: config is not imported here.)
        self.port = spec.port if spec is not None else None
        self.host = spec.host if spec is not None else ""
        env = os.environ if env is None else env
        self.metrics: Metrics | None = None
        self.tracing: Tracing | None = None
        if spec is not None and spec.enabled:
            from troupe.telemetry._metrics import metrics

            self.metrics = metrics()
        if any(env.get(name) for name in _ENDPOINTS):
            try:
                from troupe.telemetry._tracing import tracing_from_env
            except ImportError:
                logger.warning(
                    "%s is set but OpenTelemetry is not installed: no traces "
                    "(install troupe-server[otel])",
                    _ENDPOINTS[0],
                )
            else:
                self.tracing = tracing_from_env(env)
        # Where the metrics' own port listens, once started: (host, port).
        self.metrics_address: tuple[str, int] | None = None
        self._metrics_server: Any = None

    @property
    def on(self) -> bool:
        return self.metrics is not None or self.tracing is not None

    def observers(self) -> list[RunObserver]:
        if not self.on:
            return []
        from troupe.telemetry._runs import RunTelemetry

        return [RunTelemetry(self.metrics, self.tracing)]

    def store(self, store: ConversationStore) -> ConversationStore:
        if not self.on:
            return store
        from troupe.telemetry._store import measured_store

        return measured_store(store)

    def middleware(self) -> list[Middleware]:
        if not self.on:
            return []
        from troupe.telemetry._http import http_telemetry

        return [http_telemetry]

    def route_handlers(
        self, before_request: Callable[[Any], Awaitable[Any]] | None = None
    ) -> list[HTTPRouteHandler]:
        """``/metrics`` on the API's port (none when it has a port of its own)."""
        if self.metrics is None or self.port is not None:
            return []
        from troupe.telemetry._http import metrics_handler

        return [metrics_handler(before_request)]

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Switched on in this process while the server runs (with its metrics port)."""
        if not self.on:
            yield
            return
        active.metrics, active.tracing = self.metrics, self.tracing
        try:
            if self.metrics is not None and self.port is not None:
                self._serve_metrics(self.host, self.port)
            yield
        finally:
            active.metrics = active.tracing = None
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._stop)

    def _serve_metrics(self, host: str, port: int) -> None:
        from prometheus_client import start_http_server

        from troupe.telemetry._metrics import scraped

        try:
            self._metrics_server, _ = start_http_server(port, addr=host, registry=scraped())
        except OSError as err:  # another worker of this host has it: it shows every worker's
            logger.warning("metrics not served on %s:%s: %s", host, port, err)
            return
        self.metrics_address = (host, self._metrics_server.server_port)
        logger.info("metrics on http://%s:%s/metrics", *self.metrics_address)

    def _stop(self) -> None:
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None
        if self.tracing is not None:
            self.tracing.shutdown()
