"""In-process HTTP to a troupe app: its lifespan entered (the run manager serving), closed at
the end of the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import httpx2
import openai
import pytest
from litestar import Litestar


class Served:
    """Starts apps (``app_host``) and opens clients to them; the clients closed by ``aclose``."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()

    async def app(self, app: Litestar) -> Litestar:
        await _host[-1].ensure(app)
        return app

    async def http(self, app: Litestar, base_url: str = "http://troupe.test") -> httpx2.AsyncClient:
        await self.app(app)
        client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base_url)
        self.stack.push_async_callback(client.aclose)
        return client

    async def openai(self, app: Litestar, api_key: str | None = "test-key") -> openai.AsyncOpenAI:
        http = await self.http(app)
        return openai.AsyncOpenAI(
            base_url="http://troupe.test/v1",
            api_key=api_key or "none",
            http_client=http,
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self.stack.aclose()


@pytest.fixture
async def served(app_host: None) -> AsyncIterator[Served]:
    serving = Served()
    try:
        yield serving
    finally:
        await serving.aclose()


class _Host:
    """Runs the lifespans of apps that tests reach through ``ServedTransport``."""

    def __init__(self, tg: anyio.abc.TaskGroup) -> None:
        self.tg = tg
        self.apps: dict[int, anyio.Event] = {}

    async def ensure(self, app: Any) -> None:
        started = self.apps.get(id(app))
        if started is None:
            started = self.apps[id(app)] = anyio.Event()
            await self.tg.start(self._serve, app)
            started.set()
        await started.wait()

    async def _serve(self, app: Any, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """The app's ASGI lifespan: started, then running until the test ends."""
        startup = {"type": "lifespan.startup"}
        started = False

        async def receive() -> dict[str, Any]:
            nonlocal startup
            if startup:
                message, startup = startup, {}
                return message
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "lifespan.startup.complete":
                started = True
                task_status.started()
            elif message["type"] == "lifespan.startup.failed":
                raise RuntimeError(f"the app failed to start: {message.get('message')}")

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)


_host: list[_Host] = []


class ServedTransport(httpx2.ASGITransport):
    """``httpx2.ASGITransport`` that starts the app (its lifespan) before its first request;
    the app is stopped at the end of the test. Tests that use it need the ``app_host``
    fixture (``pytestmark = pytest.mark.usefixtures("app_host")``)."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app=app, **kwargs)
        self.litestar = app

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        assert _host, "ServedTransport needs the app_host fixture (tests/conftest.py)"
        await _host[-1].ensure(self.litestar)
        return await super().handle_async_request(request)


@pytest.fixture
async def app_host() -> AsyncIterator[None]:
    async with anyio.create_task_group() as tg:
        _host.append(_Host(tg))
        try:
            yield
        finally:
            _host.pop()
            tg.cancel_scope.cancel()


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An ASGI HTTP scope, for tests that play the server's part (disconnects on cue)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
        "root_path": "",
    }
