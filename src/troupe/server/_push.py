"""A send taken one step at once, and finished later if it had to wait.

A view that has caught up with a live run hands the run a sink (``LiveRun.tap``)
that writes each new event's frame from the run's own task, as it is appended:
no wake-up of the view's task per token. The send is the ASGI server's own,
taken one step there and then. Usually that is all of it (the bytes went to the
socket's buffer). When the client reads slower than the run writes, the server's
flow control makes it wait: the step says so, and the view's task finishes that
send and reads on from the run's log, as views always did. The run never waits
for a client.

A send begun on one task and finished on another must wait on nothing but
asyncio futures (an anyio cancel scope entered on the run's task and left on the
view's breaks both): so only a server's send known to be such is used
(``direct_send``, uvicorn's), and only where nothing between it and the response
changes a body (``remember_direct_send``: troupe's own app, whose middleware
look at a response's start only). Elsewhere views wake up per event, as before.
"""

from __future__ import annotations

__all__ = ["DIRECT_SEND", "Waiting", "remember_direct_send", "step"]

import asyncio
from collections.abc import Awaitable, Generator
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

# Where a request's scope holds the server's own send, when views may use it directly.
DIRECT_SEND = "troupe.direct_send"
# Servers whose ``send`` waits on asyncio futures only (its flow control's drain).
_DIRECT = {
    ("uvicorn.protocols.http.httptools_impl", "RequestResponseCycle"),
    ("uvicorn.protocols.http.h11_impl", "RequestResponseCycle"),
}


def remember_direct_send(app: ASGIApp) -> ASGIApp:
    """Wrap an app's ASGI handler (below its ``before_send`` hooks, above its middleware):
    a request served by a server of ``_DIRECT`` has that server's send in its scope. For
    apps whose middleware pass a response's body on unchanged."""

    async def remembering(scope: Scope, receive: Receive, send: Send) -> None:
        owner = getattr(send, "__self__", None)
        if owner is None or (type(owner).__module__, type(owner).__name__) not in _DIRECT:
            await app(scope, receive, send)
            return
        scope[DIRECT_SEND] = send  # type: ignore[literal-required]
        try:
            await app(scope, receive, send)
        finally:
            # The server's send is its request's own method, and that request holds the
            # scope: a cycle, left to the garbage collector (with the request's every
            # object) if the scope kept it.
            del scope[DIRECT_SEND]  # type: ignore[misc]

    return remembering


class Waiting:
    """A send that stopped at its first wait (``step``): finish it on the view's task."""

    __slots__ = ("_iterator", "_yielded")

    def __init__(self, iterator: Generator[Any, None, None], yielded: Any) -> None:
        self._iterator = iterator
        self._yielded = yielded

    async def finish(self) -> None:
        """Go on with the send as its own task would have: wait for what it waits for,
        resume it, until it returns (or raises, here)."""
        iterator, yielded = self._iterator, self._yielded
        while True:
            try:
                if yielded is None:  # a bare yield: the loop's next turn
                    await asyncio.sleep(0)
                elif isinstance(yielded, asyncio.Future):
                    # Not raising the future's error here: resumed, the send reads it.
                    await asyncio.wait((yielded,))
                else:
                    raise RuntimeError(f"a send waited on {yielded!r}, not an asyncio future")
            except BaseException:  # cancelled: the send is abandoned, its finally blocks run
                iterator.close()
                raise
            try:
                yielded = iterator.send(None)
            except StopIteration:
                return

    def close(self) -> None:
        """Abandon the send (its view is cancelled before finishing it)."""
        self._iterator.close()


def step(send: Awaitable[None]) -> Waiting | None:
    """Run ``send`` up to its first wait: None when that finished it, else what is left."""
    iterator = send.__await__()
    try:
        yielded = iterator.send(None)
    except StopIteration:
        return None
    return Waiting(iterator, yielded)
