"""The Responses views of a run: its stream events (SSE), or its ``Response`` once over.

Like the chat views, they only watch the run's log (``manager.follow``); the
run belongs to the run manager. The stream is ``event: <type>`` /
``data: <json>`` frames, each event with its ``sequence_number``; it ends after
the run's last event (``response.completed`` or ``response.failed``), with no
``[DONE]``, as OpenAI's does.
"""

from __future__ import annotations

__all__ = ["ResponseStream", "ResponseWhenDone", "encode_run"]

import functools
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar.types import Receive, Send

from troupe.events import Event, RunEnded
from troupe.runs import LiveRun, RunManager
from troupe.server._responses import RunCompletionResponse, RunStreamResponse, watching
from troupe.server.responses_api._encode import ResponseEncoder
from troupe.store import RunRecord

_encode = msgspec.json.Encoder().encode


def encode_run(record: RunRecord, events: Sequence[Event]) -> ResponseEncoder:
    """An encoder fed the run's events so far: ``.response()`` is the Response now."""
    encoder = ResponseEncoder(record)
    for event in events:
        encoder.encode(event)
    return encoder


def _frame(event: dict[str, Any]) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + _encode(event) + b"\n\n"


class ResponseStream(RunStreamResponse):
    """The run's stream events after ``starting_after``, live until the run ends."""

    def __init__(
        self,
        manager: RunManager,
        record: RunRecord,
        *,
        starting_after: int = -1,
        keepalive: float,
        cancel_on_disconnect: bool = False,
        run: LiveRun | None = None,
    ) -> None:
        super().__init__(
            manager, record, keepalive=keepalive, cancel_on_disconnect=cancel_on_disconnect
        )
        self.starting_after = starting_after
        # The run, when this stream started it: followed from the start, even if it is not
        # kept (``store: false``: it is forgotten as it ends, maybe before this follows it).
        self.run = run

    async def send_body(self, send: Send, receive: Receive) -> None:
        record = self.record
        encoder = ResponseEncoder(record)
        ended = False
        following = self.manager.follow(record.id, record.scope, 0, live=self.run)
        async with watching(functools.partial(self._watch, receive, send)) as disconnected:
            async for _, events in following:
                frames = []
                for event in events:
                    ended = ended or type(event) is RunEnded
                    for out in encoder.encode(event):
                        if out["sequence_number"] > self.starting_after:
                            frames.append(_frame(out))
                if frames:
                    await self._send(send, b"".join(frames))
        if disconnected.cancelled_caught:
            self._disconnected()
            return
        tail = b""
        if not ended:
            # This replica stopped following the run (it is not over): say so.
            error = encoder.error_event(
                "stream_interrupted",
                "the server stopped following this response; resume it with "
                "GET /v1/responses/{id}?stream=true&starting_after=<n>",
            )
            tail = _frame(error)
        await self._send(send, tail, more=False)


class ResponseWhenDone(RunCompletionResponse):
    """The run's ``Response`` once it is over, or its error with the error's status."""

    def _body(self, run: LiveRun) -> bytes:
        return _encode(encode_run(run.snapshot(), run.events).response())
