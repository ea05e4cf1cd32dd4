"""The floor: the upstream's SSE stream forwarded as-is by a minimal Litestar app.

One aiohttp read per upstream chunk, its bytes sent on unchanged; no parsing,
no disconnect watcher. Serve with
``BENCH_UPSTREAM=http://127.0.0.1:8100 uvicorn bench.relay:app``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from litestar import Litestar, Request, get, post
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Send

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8100").rstrip("/")
_session: aiohttp.ClientSession | None = None
# Writes per request tell how much the upstream's chunks were coalesced by the time we read them.
_stats = {"requests": 0, "writes": 0}


class RelayResponse(ASGIResponse):
    _should_set_content_length = False

    def __init__(self, upstream: aiohttp.ClientResponse) -> None:
        super().__init__(
            status_code=upstream.status,
            media_type=upstream.headers.get("content-type", "text/event-stream"),
        )
        self.upstream = upstream

    async def send_body(self, send: Send, receive: Receive) -> None:
        writes = 0
        async with self.upstream as upstream:
            async for data in upstream.content.iter_any():
                await send({"type": "http.response.body", "body": data, "more_body": True})
                writes += 1
        _stats["requests"] += 1
        _stats["writes"] += writes
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[None, None, None]) -> ASGIResponse:
    assert _session is not None
    upstream = await _session.post(
        f"{UPSTREAM}/v1/chat/completions",
        data=await request.body(),
        headers={"content-type": "application/json"},
    )
    return RelayResponse(upstream)


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/stats", sync_to_thread=False)
def stats() -> dict[str, int]:
    return _stats


@asynccontextmanager
async def _lifespan(_: Litestar) -> AsyncIterator[None]:
    global _session
    _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        yield
    finally:
        await _session.close()


app = Litestar([chat_completions, health, stats], lifespan=[_lifespan], openapi_config=None)
