"""A run's log as a protocol's server-sent events: the part AG-UI and A2A streams share.

A ``RunView`` turns the run's events into the protocol's frames, one event at a
time, and writes the end: what comes after the run's last event, or what a
client reads when this replica stops following a run that is not over. The
response follows the run (``manager.follow``: memory here, the store for a run
of another replica), sends a keepalive comment when the team is quiet, and
stops watching when the client goes away (the run goes on unless
``cancel_on_disconnect``).
"""

from __future__ import annotations

__all__ = ["RunEventStream", "RunView"]

import functools
import time
from typing import Protocol

from litestar.types import Receive, Send

from troupe.events import Event
from troupe.runs import RunManager
from troupe.server._responses import KeepaliveStream, watching
from troupe.store import RunRecord


class RunView(Protocol):
    def encode(self, event: Event) -> bytes:
        """The frames of one event of the log (empty when the protocol shows nothing)."""
        ...

    def end(self, *, over: bool) -> bytes:
        """The last frames: after the run's last event (``over``), or when this replica
        stopped following a run that goes on elsewhere."""
        ...


class RunEventStream(KeepaliveStream):
    """``text/event-stream`` of a run's log through ``view``, from its first event, live."""

    def __init__(
        self,
        manager: RunManager,
        record: RunRecord,
        view: RunView,
        *,
        keepalive: float,
        headers: dict[str, str],
        cancel_on_disconnect: bool = False,
    ) -> None:
        super().__init__(
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", **headers},
            media_type="text/event-stream",
        )
        self.manager = manager
        self.record = record
        self.view = view
        self.keepalive = keepalive
        self.cancel_on_disconnect = cancel_on_disconnect
        self._sent_at = time.monotonic()

    async def send_body(self, send: Send, receive: Receive) -> None:
        record = self.record
        async with watching(functools.partial(self._watch, receive, send)) as disconnected:
            async for _, events in self.manager.follow(record.id, record.scope, 0):
                body = b"".join(map(self.view.encode, events))
                if body:
                    await self._send(send, body)
        live = self.manager.local(record.id, record.scope)
        if disconnected.cancelled_caught:
            if self.cancel_on_disconnect and live is not None and not live.finished.is_set():
                live.control.stop("cancelled: the client disconnected")
            return
        over = live is None or not live.detached
        if over and live is None:
            over = (await self.manager.get(record.id, record.scope)).status not in (
                "queued",
                "in_progress",
            )
        await self._send(send, self.view.end(over=over), more=False)
