"""ASGI responses that run a team: SSE for ``stream: true``, JSON otherwise.

The run happens inside the response, in a task group that also listens for
the client's disconnect: a client that goes away cancels the run, the model
calls and tool calls under it, and nothing is saved. A run that ends well is
committed before the last frame is sent; the conversation lease is released
in every case, shielded from cancellation.
"""

from __future__ import annotations

__all__ = ["TeamCompletionResponse", "TeamStreamResponse"]

import time
import uuid
from collections.abc import Awaitable, Callable

import anyio
from litestar.response.base import ASGIResponse
from litestar.types import HTTPResponseBodyEvent, Receive, Scope, Send

from troupe.errors import TroupeError
from troupe.events import Event, RunEnded
from troupe.server._errors import error_response_body
from troupe.server._service import ChatService, PreparedRun
from troupe.teams import RunResult
from troupe.wire import KEEPALIVE, ChunkEncoder, CompletionBuilder, Renderer

_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


def _ids(run: PreparedRun) -> tuple[str, int, Renderer]:
    renderer = Renderer(run.team.answer_agents, run.team.speaker_lines)
    return f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), renderer


def _headers(run: PreparedRun) -> dict[str, str]:
    return {**_HEADERS, "x-conversation-id": run.conversation_id}


class _TeamResponse(ASGIResponse):
    _should_set_content_length = False

    def __init__(self, service: ChatService, run: PreparedRun, *, media_type: str) -> None:
        super().__init__(headers=_headers(run), media_type=media_type)
        self.service = service
        self.run = run

    async def _execute(
        self, emit: Callable[[Event], Awaitable[None]], renderer: Renderer
    ) -> RunResult:
        run = self.run
        self.service.active_runs += 1
        try:
            result = await run.team.run(run.state, run.new_messages, emit)
            if result.error is None:
                with anyio.CancelScope(shield=True):
                    await self.service.commit(run, result, renderer.answer)
            return result
        finally:
            self.service.active_runs -= 1

    async def _release(self) -> None:
        with anyio.CancelScope(shield=True):
            await self.service.store.release(self.run.lease)


class TeamStreamResponse(_TeamResponse):
    """``text/event-stream`` of chunks; keepalive comments while the team is quiet."""

    def __init__(self, service: ChatService, run: PreparedRun, *, keepalive: float) -> None:
        super().__init__(service, run, media_type="text/event-stream")
        self.keepalive = keepalive

    async def send_body(self, send: Send, receive: Receive) -> None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watch_disconnect, receive, tg.cancel_scope)
                await self._stream(send)
                tg.cancel_scope.cancel()
        finally:
            await self._release()

    async def _stream(self, send: Send) -> None:
        completion_id, created, renderer = _ids(self.run)
        encoder = ChunkEncoder(completion_id, created, self.run.team.name, renderer)
        sender, receiver = anyio.create_memory_object_stream[Event](0)
        outcome: list[RunResult] = []

        async def produce() -> None:
            async with sender:
                outcome.append(await self._execute(sender.send, renderer))

        def body(data: bytes) -> HTTPResponseBodyEvent:
            return {"type": "http.response.body", "body": data, "more_body": True}

        run_end: RunEnded | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            await send(body(encoder.start()))
            async with receiver:
                while True:
                    try:
                        event = receiver.receive_nowait()
                    except anyio.WouldBlock:
                        with anyio.move_on_after(self.keepalive) as waited:
                            try:
                                event = await receiver.receive()
                            except anyio.EndOfStream:
                                break
                        if waited.cancelled_caught:
                            await send(body(KEEPALIVE))
                            continue
                    except anyio.EndOfStream:
                        break
                    if isinstance(event, RunEnded):
                        run_end = event  # sent with the finish reason
                        continue
                    await send(body(encoder.encode(event)))
        usage = outcome[0].usage if outcome and self.run.include_usage else None
        closing = encoder.finish(run_end, usage)
        await send({"type": "http.response.body", "body": closing, "more_body": False})


class TeamCompletionResponse(_TeamResponse):
    """A ``chat.completion`` JSON body, or the run's error with its status."""

    def __init__(self, service: ChatService, run: PreparedRun) -> None:
        super().__init__(service, run, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        completion_id, created, renderer = _ids(self.run)
        builder = CompletionBuilder(completion_id, created, self.run.team.name, renderer)
        outcome: list[RunResult] = []

        async def collect(event: Event) -> None:
            builder.add(event)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watch_disconnect, receive, tg.cancel_scope)
                outcome.append(await self._execute(collect, renderer))
                tg.cancel_scope.cancel()
        finally:
            await self._release()
        if not outcome:
            return  # the client went away; nobody to answer
        result = outcome[0]
        if result.error is not None:
            await self._send_error(send, result.error)
            return
        self.body = builder.build(result.usage)
        self.headers["content-length"] = str(len(self.body))
        await self.start_response(send)
        await send({"type": "http.response.body", "body": self.body, "more_body": False})

    async def _send_error(self, send: Send, error: TroupeError) -> None:
        self.status_code = error.status_code
        self.body = error_response_body(error.message, error.error_type, error.code, error.param)
        self.headers["content-length"] = str(len(self.body))
        await self.start_response(send)
        await send({"type": "http.response.body", "body": self.body, "more_body": False})
