"""Chat-completion views of a run: SSE frames of its log, or one ``chat.completion``.

The run belongs to the run manager; a response only encodes and watches. Each
SSE frame carries ``id: <n>``, the event's sequence number in the run log, and
the frames are a function of the events alone, so a stream resumed after
``Last-Event-ID: n`` sends exactly the frames the first one would have sent
after ``n``. After the run's last event come its trailer frames, numbered on:
the usage chunk (with ``include_usage``) and ``[DONE]``.

When the client goes away, a response stops watching; the run goes on or is
cancelled as the request asked (``background``, ``server.on_disconnect``).
"""

from __future__ import annotations

__all__ = [
    "RunCompletionResponse",
    "RunStreamResponse",
    "chunk_encoder",
    "completion_body",
    "completion_id",
    "watching",
]

import asyncio
import contextlib
import contextvars
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import anyio
from litestar.response.base import ASGIResponse
from litestar.types import Message, Receive, Scope, Send

from troupe.errors import TroupeError
from troupe.events import Event, RunEnded
from troupe.messages import Usage
from troupe.runs import LiveRun, RunManager
from troupe.server._errors import error_response_body
from troupe.server._push import DIRECT_SEND, Waiting, step
from troupe.store import RunRecord
from troupe.wire import DONE, KEEPALIVE, ChunkEncoder, CompletionBuilder, Renderer, error_body

_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def completion_id(run_id: str) -> str:
    """The ``chat.completion`` id of a run (and back: ``run_`` + the same hex)."""
    return "chatcmpl-" + run_id.removeprefix("run_")


def _renderer(record: RunRecord) -> Renderer:
    agents = record.input.answer_agents
    return Renderer(frozenset(agents) if agents is not None else None, record.input.speaker_lines)


def chunk_encoder(record: RunRecord) -> ChunkEncoder:
    return ChunkEncoder(
        completion_id(record.id), int(record.created_at), record.team, _renderer(record)
    )


def completion_body(record: RunRecord, events: list[Event]) -> bytes:
    """The run's ``chat.completion`` (non-stream answers, stored completions)."""
    builder = CompletionBuilder(
        completion_id(record.id), int(record.created_at), record.team, _renderer(record)
    )
    usage = Usage()
    for event in events:
        builder.add(event)
        if type(event) is RunEnded:
            usage = event.usage
    return builder.build(usage)


def run_headers(record: RunRecord) -> dict[str, str]:
    return {**_HEADERS, "x-conversation-id": record.conversation_id, "x-run-id": record.id}


Watch = Callable[[anyio.CancelScope, anyio.CancelScope], Coroutine[Any, Any, None]]


@contextlib.asynccontextmanager
async def watching(watch: Watch) -> AsyncIterator[anyio.CancelScope]:
    """The block, with a task running ``watch(on_disconnect, until)`` beside it: ``watch``
    waits for the client to go away, then cancels ``on_disconnect`` (the block, with it),
    until ``until`` is cancelled (the block is done). Yields ``on_disconnect``: its
    ``cancelled_caught`` afterwards says whether the client went away.

    The watch ends in a cancel scope of its own, not cancelled from outside: anyio keeps
    the error of a task cancelled from outside in a reference cycle (the task's frames in
    it), left for the garbage collector, at every request."""
    disconnected, until = anyio.CancelScope(), anyio.CancelScope()
    with disconnected:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, disconnected, until)
            yield disconnected
            until.cancel()


async def watch_disconnect(
    receive: Receive, on_disconnect: anyio.CancelScope, until: anyio.CancelScope
) -> None:
    """A ``Watch``: wait for the client to go away."""
    with until:
        while (await receive())["type"] != "http.disconnect":
            pass
        on_disconnect.cancel()


class KeepaliveStream(ASGIResponse):
    """A streamed response that sends an SSE comment whenever nothing was sent for
    ``keepalive`` seconds."""

    _should_set_content_length = False
    keepalive: float = 15.0
    _sent_at: float = 0.0

    def _send(self, send: Send, body: bytes, *, more: bool = True) -> Awaitable[None]:
        """Send ``body`` (the send's own awaitable: no coroutine per chunk)."""
        self._sent_at = time.monotonic()
        return send({"type": "http.response.body", "body": body, "more_body": more})

    def _keepalive_scope(self) -> anyio.CancelScope:
        """A cancel scope whose deadline is when the keepalive comment is next due."""
        due = self._sent_at + self.keepalive - time.monotonic()
        return anyio.CancelScope(deadline=anyio.current_time() + due)

    async def _watch(
        self,
        receive: Receive,
        send: Send,
        on_disconnect: anyio.CancelScope,
        until: anyio.CancelScope,
    ) -> None:
        """A ``Watch`` (see ``watching``): wait for the client to go away, and send the
        keepalive comment when it is due."""
        with until:
            while True:
                with self._keepalive_scope():
                    if (await receive())["type"] == "http.disconnect":
                        on_disconnect.cancel()
                        return
                    continue
                if time.monotonic() - self._sent_at >= self.keepalive:
                    await self._send(send, KEEPALIVE)


class _Cursor:
    """Where a stream is in its run's log: the last event encoded, the run's end once seen,
    and, while the run's task wrote its frames, a send left to finish or the error of one."""

    __slots__ = ("error", "run_end", "seq", "unsent", "waiting")

    def __init__(self) -> None:
        self.seq = 0
        self.run_end: RunEnded | None = None
        self.waiting: Waiting | None = None
        self.error: Exception | None = None
        # Frames of events up to ``seq`` the run's task kept for the stream to send (the
        # run's last ones: with the stream's end, in one write).
        self.unsent = b""


class RunStreamResponse(KeepaliveStream):
    """``text/event-stream`` of a run's frames after ``after``, live until ``[DONE]``.

    ``cancel_on_disconnect``: the client that started a run (neither ``background``
    nor ``on_disconnect: continue``) cancels it by going away.
    """

    def __init__(
        self,
        manager: RunManager,
        record: RunRecord,
        *,
        after: int = 0,
        keepalive: float,
        cancel_on_disconnect: bool = False,
    ) -> None:
        super().__init__(headers=run_headers(record), media_type="text/event-stream")
        self.manager = manager
        self.record = record
        self.after = after
        self.keepalive = keepalive
        self.cancel_on_disconnect = cancel_on_disconnect
        self._sent_at = time.monotonic()
        self._direct: Send | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._direct = scope.get(DIRECT_SEND)  # type: ignore[assignment]
        await super().__call__(scope, receive, send)

    async def send_body(self, send: Send, receive: Receive) -> None:
        record = self.record
        encoder = chunk_encoder(record)
        cursor = _Cursor()
        run = self.manager.local(record.id, record.scope)
        if run is not None and self._direct is not None and run.tappable:
            gone = await self._push(run, self._direct, receive, send, encoder, cursor)
        else:
            gone = await self._pull(receive, send, encoder, cursor)
        if gone:
            self._disconnected()
            return
        trailer = self._trailer(encoder, cursor.run_end, cursor.seq)
        await self._send(send, cursor.unsent + trailer, more=False)

    async def _pull(
        self, receive: Receive, send: Send, encoder: ChunkEncoder, cursor: _Cursor
    ) -> bool:
        """The run's log as the run manager reads it (from memory here, from the store for
        another replica's run), a task watching the client meanwhile; True when the client
        went away."""
        record = self.record
        async with watching(functools.partial(self._watch, receive, send)) as disconnected:
            async for first, events in self.manager.follow(record.id, record.scope, 0):
                frames = self._frames(encoder, cursor, first, events)
                if frames:
                    await self._send(send, frames)
        return disconnected.cancelled_caught

    def _frames(
        self, encoder: ChunkEncoder, cursor: _Cursor, first: int, events: list[Event]
    ) -> bytes:
        """The frames of ``events`` (``first`` the first one's sequence number) past
        ``after``, in one write."""
        frames = []
        after = self.after
        for seq, event in enumerate(events, first):
            frame = encoder.encode(event)
            if type(event) is RunEnded:
                cursor.run_end = event
            if seq > after:
                frames.append(b"id: %d\n" % seq + frame)
        cursor.seq = first + len(events) - 1
        return b"".join(frames)

    async def _push(
        self,
        run: LiveRun,
        direct: Send,
        receive: Receive,
        send: Send,
        encoder: ChunkEncoder,
        cursor: _Cursor,
    ) -> bool:
        """A run of this process: its log read up to its end, then, once caught up, each
        new event's frame written by the run's own task as it is appended (``LiveRun.tap``)
        while this task watches the client, until a send has to wait or the run is over.
        No task of its own: True when the client went away."""
        while True:
            visible = run.visible
            if visible > cursor.seq:
                events = run.events[cursor.seq : visible]
                frames, cursor.unsent = cursor.unsent, b""
                frames += self._frames(encoder, cursor, cursor.seq + 1, events)
                if frames:
                    await self._send(send, frames)
                continue
            if run.over:
                return False
            sink = _Push(self, run, direct, encoder, cursor)
            handed_back = run.tap(sink)
            if handed_back is None:  # over meanwhile
                continue
            try:
                gone = await self._watch_until(handed_back, receive, send)
            except BaseException:
                if cursor.waiting is not None:
                    cursor.waiting.close()
                raise
            finally:
                cursor.unsent = sink.leave()
                run.untap(sink)
            if gone:
                if cursor.waiting is not None:
                    cursor.waiting.close()
                return True
            if cursor.error is not None:
                raise cursor.error
            if cursor.waiting is not None:
                waiting, cursor.waiting = cursor.waiting, None
                await waiting.finish()

    async def _watch_until(
        self, handed_back: asyncio.Future[None], receive: Receive, send: Send
    ) -> bool:
        """Watch the client until the run hands the stream back (True if the client went
        away), sending the keepalive comment when it is due: one asyncio timeout at a time,
        due at the next keepalive, expired at once by the hand-back. (The hand-back is an
        asyncio future: this runs on asyncio only, where asyncio's timeout costs less than
        an anyio cancel scope: callgrind, one-token answers, 2.25 -> 2.22 M instructions a
        request.)"""
        loop = handed_back.get_loop()
        while not handed_back.done():
            due = loop.time() + self._sent_at + self.keepalive - time.monotonic()
            try:
                async with asyncio.timeout_at(due) as timeout:

                    def expire(_: object, timeout: asyncio.Timeout = timeout) -> None:
                        # (A timeout over already, the client gone meanwhile, stays so.)
                        with contextlib.suppress(RuntimeError):
                            timeout.reschedule(0)

                    handed_back.add_done_callback(expire)
                    try:
                        while (await receive())["type"] != "http.disconnect":
                            pass
                    finally:
                        handed_back.remove_done_callback(expire)
                    return True
            except TimeoutError:
                pass
            if handed_back.done():
                break
            if time.monotonic() - self._sent_at >= self.keepalive:
                await self._send(send, KEEPALIVE)
        return False

    def _trailer(self, encoder: ChunkEncoder, run_end: RunEnded | None, seq: int) -> bytes:
        live = self.manager.local(self.record.id, self.record.scope)
        if run_end is None or (live is not None and live.detached):
            # The run is not over here (this replica stops): say so, never close silently.
            message = "the server stopped following this run; resume it with Last-Event-ID"
            error = {"error": error_body(message, type="server_error", code="stream_interrupted")}
            return b"data: " + _json(error) + b"\n\n" + DONE
        frames = []
        if self.record.input.include_usage:
            seq += 1
            if seq > self.after:
                frames.append(b"id: %d\n" % seq + encoder.usage(run_end.usage))
        seq += 1
        if seq > self.after:
            frames.append(b"id: %d\n" % seq + DONE)
        return b"".join(frames)

    def _disconnected(self) -> None:
        if not self.cancel_on_disconnect:
            return
        live = self.manager.local(self.record.id, self.record.scope)
        if live is not None and not live.finished.is_set():
            live.control.stop("cancelled: the client disconnected")


class _Push:
    """A stream's sink (``LiveRun.tap``): called on the run's task with each new event, it
    keeps the event's frame; the frames of the events appended in one turn of the event
    loop go out together at the end of the turn, in one write (a run appends a few at once:
    its usage, a turn's end, its own end), with the server's own ``send``, in a copy of the
    stream's context. The frames from the run's end on are kept for the stream, which sends
    them with its own end (``[DONE]``), in one write. When a send has to wait, or fails, the
    run hands the stream back: its task finishes that send (or raises the error) and reads
    on from the run's log."""

    __slots__ = (
        "_context",
        "_cursor",
        "_encode",
        "_ending",
        "_frames",
        "_left",
        "_loop",
        "_run",
        "_send",
        "_view",
    )

    def __init__(
        self,
        view: RunStreamResponse,
        run: LiveRun,
        send: Send,
        encoder: ChunkEncoder,
        cursor: _Cursor,
    ) -> None:
        self._view = view
        self._run = run
        self._send = send
        self._cursor = cursor
        self._context = contextvars.copy_context().run
        self._loop = asyncio.get_running_loop()
        self._frames: list[bytes] = []
        self._left = False
        self._ending = False
        self._encode = encoder.encode

    def __call__(self, seq: int, event: Event) -> bool:
        cursor = self._cursor
        try:
            frame = self._encode(event)
        except Exception as exc:  # the stream raises it, on its own task
            cursor.error = exc
            return False
        if type(event) is RunEnded:
            cursor.run_end = event
            self._ending = True
        cursor.seq = seq
        if seq > self._view.after:
            if not self._frames:
                self._loop.call_soon(self._flush)
            self._frames.append(b"id: %d\n" % seq + frame)
        return True

    def _flush(self) -> None:
        if self._left or self._ending:  # the stream sends them (or is over)
            return
        body = b"".join(self._frames)
        self._frames.clear()
        self._view._sent_at = time.monotonic()
        message: Message = {"type": "http.response.body", "body": body, "more_body": True}
        try:
            waiting = self._context(step, self._send(message))
        except Exception as exc:
            self._cursor.error = exc
            self._run.untap(self)
            return
        if waiting is not None:
            self._cursor.waiting = waiting
            self._run.untap(self)

    def leave(self) -> bytes:
        """The stream stops taking frames (it reads on from the log, or ends): the frames
        kept and not sent, for the stream to send."""
        self._left = True
        frames, self._frames = self._frames, []
        return b"".join(frames)


class RunCompletionResponse(ASGIResponse):
    """The run's ``chat.completion`` once it is over, or its error with the error's status."""

    def __init__(self, manager: RunManager, run: LiveRun, *, cancel_on_disconnect: bool) -> None:
        super().__init__(headers=run_headers(run.record), media_type="application/json")
        self.manager = manager
        self.run = run
        self.cancel_on_disconnect = cancel_on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        run = self.run
        async with watching(functools.partial(watch_disconnect, receive)) as disconnected:
            await run.finished.wait()
        if disconnected.cancelled_caught:
            if self.cancel_on_disconnect and not run.finished.is_set():
                run.control.stop("cancelled: the client disconnected")
            return
        error: TroupeError | None = run.error
        if error is not None or run.detached:
            await self._send_error(send, error)
            return
        self.body = self._body(run)
        self.headers["content-length"] = str(len(self.body))
        await self.start_response(send)
        await send({"type": "http.response.body", "body": self.body, "more_body": False})

    def _body(self, run: LiveRun) -> bytes:
        """The finished run as this view shows it: a ``chat.completion``."""
        return completion_body(run.snapshot(), run.events)

    async def _send_error(self, send: Send, error: TroupeError | None) -> None:
        if error is None:
            error = TroupeError("the server stopped before the run ended")
        self.status_code = error.status_code
        self.body = error_response_body(error.message, error.error_type, error.code, error.param)
        self.headers["content-length"] = str(len(self.body))
        await self.start_response(send)
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def _json(obj: object) -> bytes:
    import msgspec

    return msgspec.json.encode(obj)
