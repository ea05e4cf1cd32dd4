"""``troupe serve``'s uvicorn server: on SIGTERM the runs are drained before connections close.

Uvicorn's own shutdown closes the connections first (giving them
``timeout_graceful_shutdown``) and only then tells the app, so a stream still
running was cut with no error chunk, no ``[DONE]``, and its run's lease left
behind. Here the app drains first: readiness turns 503 and new runs are refused
at once, runs in progress get ``server.shutdown_grace_seconds``, then the rest
are stopped (background runs left, checkpointed, for another replica): every
stream following them ends with an error chunk and ``[DONE]``. Then uvicorn
closes the connections, whose streams have ended.
"""

from __future__ import annotations

__all__ = ["DrainingServer"]

import logging
import socket
from collections.abc import Awaitable, Callable

import uvicorn

logger = logging.getLogger("troupe.server")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.force_exit:
            logger.info("shutting down: no new runs; waiting for the runs in progress")
            try:
                await self._drain()
            except Exception:  # still shut down
                logger.exception("draining the runs failed")
        await super().shutdown(sockets)
