"""The troupe app with proposed fixes patched in, to measure each one's gain.

Not troupe code: each patch here stands in for a change proposed in
``docs/performance.md``, applied to the unmodified package at run time.
Serve with ``BENCH_CONFIG=teams.yaml BENCH_PATCHES=deps,writer
uvicorn --factory bench.variants:create_app``.

* ``auth``: the API-key guard as a coroutine function (Litestar runs a sync
  guard in a worker thread, on every request); troupe has it since 2dab157.
* ``deps``: Litestar resolves the route's three dependencies (service, api
  keys, keepalive) one after the other instead of in a task group of three
  tasks per request, which is what giving the handler one dependency (or
  none: a closure over the plugin) would achieve.
* ``logging``: the root logger at WARNING, as ``--log-level warning`` asks
  (Litestar's default logging config sets it to INFO, so httpx logs a line
  per upstream request through a queue thread); ``troupe serve`` quiets the
  HTTP clients' loggers since 2dab157.
* ``writer``: the outbox writer (``troupe.server._outbox``, since b4c7568)
  without a keepalive timer per wake-up (``move_on_after`` on every flush);
  a sibling task sends the keepalive when nothing went out for that long.
* ``flush``: a frame waits at most ``_FLUSH_AFTER`` seconds of the run's CPU
  work in the outbox: past that, ``emit`` waits for the writer (as when the
  outbox is full), so a long upstream read does not hold back the first token.
* ``coalesce`` (for troupe before b4c7568, which took this design): no
  memory-stream hop per event. ``emit`` encodes the event and appends the
  frame to an outbox; the response task sends everything the outbox holds in
  one ASGI message whenever the run waits for the network, so one upstream
  read becomes one write. A frame waits at most ``_FLUSH_AFTER`` seconds of
  CPU work for its batch; backpressure past ``_OUTBOX_LIMIT`` frames.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from typing import Any

import anyio
import anyio.lowlevel
from litestar import Litestar
from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.connection import ASGIConnection
from litestar.types import Send

from troupe.events import Event, RunEnded
from troupe.server import _auth, _responses
from troupe.server import create_app as troupe_app
from troupe.teams import RunResult
from troupe.wire import KEEPALIVE, ChunkEncoder

_OUTBOX_LIMIT = 256
_FLUSH_AFTER = 0.0005


async def _async_guard(self: _auth.ApiKeys, connection: ASGIConnection, handler: object) -> None:  # type: ignore[type-arg]
    _check(self, connection, handler)


_check = _auth.ApiKeys.__call__


class _Outbox:
    """Frames waiting to be sent; ``ready`` is set while there are any (or the run ended)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.since = 0.0  # when the oldest waiting frame was put
        self.ended = False
        self.ready = anyio.Event()
        self.room = anyio.Event()

    def put(self, frame: bytes) -> None:
        if not self.frames:
            self.since = time.perf_counter()
        self.frames.append(frame)
        self.ready.set()

    def end(self) -> None:
        self.ended = True
        self.ready.set()

    def take(self) -> bytes:
        data = b"".join(self.frames)
        self.frames.clear()
        self.ready = anyio.Event()
        self.room.set()
        self.room = anyio.Event()
        return data


async def _coalesced_stream(self: _responses.TeamStreamResponse, send: Send) -> None:
    completion_id, created, renderer = _responses._ids(self.run)
    encoder = ChunkEncoder(completion_id, created, self.run.team.name, renderer)
    outbox = _Outbox()
    outcome: list[RunResult] = []
    run_end: RunEnded | None = None

    async def emit(event: Event) -> None:
        nonlocal run_end
        if isinstance(event, RunEnded):
            run_end = event  # sent with the finish reason
            return
        outbox.put(encoder.encode(event))
        if len(outbox.frames) >= _OUTBOX_LIMIT:
            await outbox.room.wait()
        elif time.perf_counter() - outbox.since > _FLUSH_AFTER:
            await anyio.lowlevel.checkpoint()  # let the response task send what waits

    async def produce() -> None:
        try:
            outcome.append(await self._execute(emit, renderer))
        finally:
            outbox.end()

    def body(data: bytes) -> dict[str, object]:
        return {"type": "http.response.body", "body": data, "more_body": True}

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        # Queued, not sent: the run gets to send its upstream request first.
        outbox.put(encoder.start())
        while True:
            with anyio.move_on_after(self.keepalive) as waited:
                await outbox.ready.wait()
            if waited.cancelled_caught:
                await send(body(KEEPALIVE))  # type: ignore[arg-type]
                continue
            ended = outbox.ended
            if outbox.frames:
                await send(body(outbox.take()))  # type: ignore[arg-type]
            if ended:
                break
    usage = outcome[0].usage if outcome and self.run.include_usage else None
    closing = encoder.finish(run_end, usage)
    await send({"type": "http.response.body", "body": closing, "more_body": False})


async def _sequential_dependencies(
    self: KwargsModel, connection: ASGIConnection, kwargs: dict[str, Any]
) -> DependencyCleanupGroup:  # type: ignore[type-arg]
    cleanup_group = DependencyCleanupGroup()
    for batch in self.dependency_batches:
        for dependency in batch:
            await resolve_dependency(dependency, connection, kwargs, cleanup_group)
    return cleanup_group


async def _writer_without_timer(self: Any) -> None:
    async def keepalive() -> None:
        while True:
            await anyio.sleep(self._keepalive)
            if time.monotonic() - self._last_sent >= self._keepalive:
                self.put(KEEPALIVE)

    self._last_sent = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(keepalive)
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            data = b"".join(self._frames)
            self._frames.clear()
            self._size = 0
            drained, self._drained = self._drained, anyio.Event()
            drained.set()
            last = self._closed
            await self._send({"type": "http.response.body", "body": data, "more_body": not last})
            self._last_sent = time.monotonic()
            if last:
                self._sent.set()
                tg.cancel_scope.cancel()
                return


def _timed_put(original: Any) -> Any:
    def put(self: Any, frame: bytes) -> None:
        if not self._frames:
            self._first_put = time.perf_counter()
        original(self, frame)

    return put


def _full_or_stale(self: Any) -> bool:
    if self._size > self._limit:
        return True
    return bool(self._frames) and time.perf_counter() - self._first_put > _FLUSH_AFTER


def _outbox() -> Any:
    try:
        from troupe.server._outbox import Outbox
    except ImportError:
        raise ValueError(
            "writer and flush patch the outbox, which this troupe does not have"
        ) from None
    return Outbox


def apply(patches: set[str]) -> None:
    unknown = patches - {"auth", "deps", "logging", "writer", "flush", "coalesce"}
    if unknown:
        raise ValueError(f"unknown patches: {', '.join(sorted(unknown))}")
    if "auth" in patches and not inspect.iscoroutinefunction(_check):  # async since 2dab157
        _auth.ApiKeys.__call__ = _async_guard  # type: ignore[method-assign]
    if "deps" in patches:
        KwargsModel.resolve_dependencies = _sequential_dependencies  # type: ignore[method-assign]
    if "writer" in patches:
        _outbox().run = _writer_without_timer
    if "flush" in patches:
        outbox = _outbox()
        outbox.put = _timed_put(outbox.put)
        outbox.full = property(_full_or_stale)
    if "coalesce" in patches:
        if not hasattr(_responses.TeamStreamResponse, "_stream"):
            raise ValueError(
                "coalesce patches the per-event stream, which this troupe no longer has"
            )
        _responses.TeamStreamResponse._stream = _coalesced_stream  # type: ignore[attr-defined]


def create_app() -> Litestar:
    patches = {p for p in os.environ.get("BENCH_PATCHES", "").split(",") if p}
    apply(patches)
    app = troupe_app(os.environ["BENCH_CONFIG"])
    if "logging" in patches:
        logging.getLogger().setLevel(logging.WARNING)
    return app
