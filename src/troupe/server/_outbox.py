"""The outbox: SSE frames on their way to the client, sent in as few writes as possible.

A run puts frames without waiting; a writer task sends everything that has
gathered whenever the run yields to the event loop (it waits on a model, a
tool, the network). Tokens that arrive together from upstream leave together
in one write, and the first token still leaves as soon as the run waits for
the next one. While nothing is sent for ``keepalive`` seconds the writer sends
an SSE comment. Backpressure: past ``limit`` buffered bytes, ``wait_drained``
makes the run wait for the client.
"""

from __future__ import annotations

__all__ = ["Outbox"]

import anyio
from litestar.types import Send

from troupe.wire import KEEPALIVE


class Outbox:
    def __init__(self, send: Send, *, keepalive: float, limit: int = 64 * 1024) -> None:
        self._send = send
        self._keepalive = keepalive
        self._limit = limit
        self._frames: list[bytes] = []
        self._size = 0
        self._closed = False
        self._wake = anyio.Event()
        self._drained = anyio.Event()
        self._sent = anyio.Event()

    def put(self, frame: bytes) -> None:
        self._frames.append(frame)
        self._size += len(frame)
        self._wake.set()

    @property
    def full(self) -> bool:
        return self._size > self._limit

    async def wait_drained(self) -> None:
        """Wait until the writer has taken what is buffered (the client keeps up)."""
        while self.full:
            await self._drained.wait()

    def close(self) -> None:
        """No more frames: the writer sends what is left and ends the response."""
        self._closed = True
        self._wake.set()

    async def wait_sent(self) -> None:
        """Wait until the writer has sent the last frame (after ``close``)."""
        await self._sent.wait()

    async def run(self) -> None:
        """The writer: run it in the response's task group."""
        while True:
            with anyio.move_on_after(self._keepalive) as waited:
                await self._wake.wait()
            if waited.cancelled_caught:
                await self._send(
                    {"type": "http.response.body", "body": KEEPALIVE, "more_body": True}
                )
                continue
            self._wake = anyio.Event()
            data = b"".join(self._frames)
            self._frames.clear()
            self._size = 0
            drained, self._drained = self._drained, anyio.Event()
            drained.set()
            last = self._closed
            await self._send({"type": "http.response.body", "body": data, "more_body": not last})
            if last:
                self._sent.set()
                return
