"""The Slack adapter as an ASGI app: bolt's request handler, a health check, lifespan."""

from __future__ import annotations

__all__ = ["SlackASGIApp"]

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler

if TYPE_CHECKING:
    from troupe.adapters.slack._app import SlackAdapter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class SlackASGIApp:
    """Serves Slack's events, commands and interactivity at the adapter's path.

    Lifespan events start and stop the adapter (``adapter.running()``), so
    ``uvicorn module:app`` works as it is; ``GET /health`` tells a load
    balancer whether the adapter runs.
    """

    def __init__(self, adapter: SlackAdapter) -> None:
        self.adapter = adapter
        self.handler = AsyncSlackRequestHandler(adapter.app, path=adapter.settings.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == "/health":
            await self._health(scope, send)
        else:
            await self.handler(scope, receive, send)  # type: ignore[arg-type]

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        started = False
        try:
            async with self.adapter.running():
                started = True
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        except Exception as err:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": str(err)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _health(self, scope: Scope, send: Send) -> None:
        running = self.adapter.is_running
        body = {
            "status": "ok" if running else "stopped",
            "team": self.adapter.settings.team,
            "active_turns": self.adapter.active_turns,
        }
        await send(
            {
                "type": "http.response.start",
                "status": 200 if running else 503,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})
