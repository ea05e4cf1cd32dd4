"""What every fake HTTP server shares: a loopback aiohttp app, its lifecycle, state waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

import aiohttp.web as web
import anyio


class FakeServer:
    """An aiohttp app on ``host:port`` (0 picks a free port); an async context manager.

    Subclasses add their routes in ``_routes`` and call ``_notify`` whenever
    their state changes, so tests can ``wait_until`` a condition holds.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        # Created in start(): anyio events need a running event loop.
        self._changed: anyio.Event | None = None
        self._closing: anyio.Event | None = None

    def _routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait (at most 10 s) until ``condition()`` holds; re-checked on every state change."""
        with anyio.fail_after(10):
            while not condition():
                assert self._changed is not None, "server not started"
                await self._changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = anyio.Event()

    async def start(self) -> None:
        self._changed = anyio.Event()
        self._closing = anyio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._routes(app.router)
        # handler_cancellation: a client that goes away cancels its handler, which counts it.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
