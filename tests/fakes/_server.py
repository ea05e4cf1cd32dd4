"""What every fake HTTP server shares: a loopback aiohttp app, its lifecycle, state waits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, Self

import aiohttp.web as web
import anyio


class StreamFailures(Protocol):
    """The failure knobs of a scripted reply, counted in frames sent."""

    error_after: int | None
    disconnect_after: int | None
    hang_after: int | None
    delay: float


class StreamStats(Protocol):
    streams_started: int
    streams_completed: int
    streams_cancelled: int


def drop(request: web.Request) -> None:
    """Abort, not close: the client sees the connection break mid-body, as when a proxy dies."""
    if request.transport is not None:
        request.transport.abort()


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

    async def stream(
        self,
        request: web.Request,
        frames: Sequence[bytes],
        failures: StreamFailures,
        stats: StreamStats,
        *,
        content_type: str,
        error_frame: bytes,
    ) -> web.StreamResponse:
        """Send ``frames`` one write each, failing where ``failures`` says; count it in ``stats``."""
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )
        stats.streams_started += 1
        self._notify()
        try:
            await response.prepare(request)
            for sent, frame in enumerate(frames):
                if sent == failures.error_after:
                    await response.write(error_frame)
                    await response.write_eof()
                    return response
                if sent == failures.disconnect_after:
                    drop(request)
                    return response
                if sent == failures.hang_after:
                    assert self._closing is not None
                    await self._closing.wait()
                    drop(request)
                    return response
                if failures.delay and sent:
                    await anyio.sleep(failures.delay)
                await response.write(frame)
            await response.write_eof()
        except (anyio.get_cancelled_exc_class(), ConnectionResetError):
            # The client closed the connection while the stream was still going.
            if self._closing is not None and not self._closing.is_set():
                stats.streams_cancelled += 1
                self._notify()
            raise
        stats.streams_completed += 1
        self._notify()
        return response

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
