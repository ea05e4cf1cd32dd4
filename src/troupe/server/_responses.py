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
from litestar.types import Receive, Scope, Send

from troupe.errors import TroupeError
from troupe.events import Event, RunEnded
from troupe.server._errors import error_response_body
from troupe.server._outbox import Outbox
from troupe.server._service import ChatService, PreparedRun
from troupe.teams import RunResult
from troupe.wire import ChunkEncoder, CompletionBuilder, Renderer

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
            store, conversation_id = self.service.store, run.conversation_id

            async def should_stop() -> bool:
                return await store.stop_requested(conversation_id)

            result = await run.team.run(run.state, run.new_messages, emit, should_stop=should_stop)
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
        completion_id, created, renderer = _ids(self.run)
        encoder = ChunkEncoder(completion_id, created, self.run.team.name, renderer)
        outbox = Outbox(send, keepalive=self.keepalive)
        run_end: list[RunEnded] = []

        async def emit(event: Event) -> None:
            if type(event) is RunEnded:
                run_end.append(event)  # sent with the finish reason
                return
            outbox.put(encoder.encode(event))
            if outbox.full:
                await outbox.wait_drained()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watch_disconnect, receive, tg.cancel_scope)
                tg.start_soon(outbox.run)
                outbox.put(encoder.start())
                result = await self._execute(emit, renderer)
                usage = result.usage if self.run.include_usage else None
                outbox.put(encoder.finish(run_end[0] if run_end else None, usage))
                outbox.close()
                await outbox.wait_sent()
                tg.cancel_scope.cancel()
        finally:
            await self._release()


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
