"""The Responses views of a run: its stream events (SSE), or its ``Response`` once over.

Like the chat views, they only watch the run's log (``manager.follow``); the
run belongs to the run manager. The stream is ``event: <type>`` /
``data: <json>`` frames, each event with its ``sequence_number``; it ends after
the run's last event (``response.completed`` or ``response.failed``), with no
``[DONE]``, as OpenAI's does.
"""

from __future__ import annotations

__all__ = ["ResponseStream", "ResponseWhenDone", "encode_run"]

import time
from collections.abc import Sequence
from typing import Any

import anyio
import msgspec
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from troupe.errors import TroupeError
from troupe.events import Event, RunEnded
from troupe.runs import LiveRun, RunManager
from troupe.server._errors import error_response_body
from troupe.server.responses_api._encode import ResponseEncoder
from troupe.store import RunRecord

_encode = msgspec.json.Encoder().encode
_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_KEEPALIVE = b": keepalive\n\n"


def encode_run(record: RunRecord, events: Sequence[Event]) -> ResponseEncoder:
    """An encoder fed the run's events so far: ``.response()`` is the Response now."""
    encoder = ResponseEncoder(record)
    for event in events:
        encoder.encode(event)
    return encoder


def _frame(event: dict[str, Any]) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + _encode(event) + b"\n\n"


def _headers(record: RunRecord) -> dict[str, str]:
    return {**_HEADERS, "x-conversation-id": record.conversation_id, "x-run-id": record.id}


async def _until_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class ResponseStream(ASGIResponse):
    """The run's stream events after ``starting_after``, live until the run ends."""

    _should_set_content_length = False

    def __init__(
        self,
        manager: RunManager,
        record: RunRecord,
        *,
        starting_after: int = -1,
        keepalive: float,
        cancel_on_disconnect: bool = False,
    ) -> None:
        super().__init__(headers=_headers(record), media_type="text/event-stream")
        self.manager = manager
        self.record = record
        self.starting_after = starting_after
        self.keepalive = keepalive
        self.cancel_on_disconnect = cancel_on_disconnect
        self._sent_at = time.monotonic()

    async def _send(self, send: Send, body: bytes, *, more: bool = True) -> None:
        self._sent_at = time.monotonic()
        await send({"type": "http.response.body", "body": body, "more_body": more})

    async def _keepalive(self, send: Send) -> None:
        while True:
            await anyio.sleep(self._sent_at + self.keepalive - time.monotonic())
            if time.monotonic() - self._sent_at >= self.keepalive:
                await self._send(send, _KEEPALIVE)

    async def send_body(self, send: Send, receive: Receive) -> None:
        record = self.record
        encoder = ResponseEncoder(record)
        ended = False
        disconnected = anyio.CancelScope()
        with disconnected:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_until_disconnect, receive, disconnected)
                tg.start_soon(self._keepalive, send)
                async for _, events in self.manager.follow(record.id, record.scope, 0):
                    frames = []
                    for event in events:
                        ended = ended or type(event) is RunEnded
                        for out in encoder.encode(event):
                            if out["sequence_number"] > self.starting_after:
                                frames.append(_frame(out))
                    if frames:
                        await self._send(send, b"".join(frames))
                tg.cancel_scope.cancel()
        if disconnected.cancelled_caught:
            live = self.manager.local(record.id, record.scope)
            if self.cancel_on_disconnect and live is not None and not live.finished.is_set():
                live.control.stop("cancelled: the client disconnected")
            return
        tail = b""
        if not ended:
            # This replica stopped following the run (it is not over): say so.
            error = encoder._event(
                "error",
                code="stream_interrupted",
                message="the server stopped following this response; resume it with "
                "GET /v1/responses/{id}?stream=true&starting_after=<n>",
                param=None,
            )
            tail = _frame(error)
        await self._send(send, tail, more=False)


class ResponseWhenDone(ASGIResponse):
    """The run's ``Response`` once it is over, or its error with the error's status."""

    def __init__(self, manager: RunManager, run: LiveRun, *, cancel_on_disconnect: bool) -> None:
        super().__init__(headers=_headers(run.record), media_type="application/json")
        self.manager = manager
        self.run = run
        self.cancel_on_disconnect = cancel_on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        run = self.run
        disconnected = anyio.CancelScope()
        with disconnected:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_until_disconnect, receive, disconnected)
                await run.finished.wait()
                tg.cancel_scope.cancel()
        if disconnected.cancelled_caught:
            if self.cancel_on_disconnect and not run.finished.is_set():
                run.control.stop("cancelled: the client disconnected")
            return
        error: TroupeError | None = run.error
        if error is not None or run.detached:
            error = error or TroupeError("the server stopped before the response was done")
            self.status_code = error.status_code
            self.body = error_response_body(
                error.message, error.error_type, error.code, error.param
            )
        else:
            self.body = _encode(encode_run(run.snapshot(), run.events).response())
        self.headers["content-length"] = str(len(self.body))
        await self.start_response(send)
        await send({"type": "http.response.body", "body": self.body, "more_body": False})
