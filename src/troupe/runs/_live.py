"""A run this process runs: its log in memory, for the views that follow it live.

The run appends events without waiting (``emit``); a view waits for news with
``wait_after(seq)`` and reads ``events`` past its cursor, so tokens that arrive
together reach a client in one write, and followers on this replica never wait
for the store. The log writer persists ``events`` in batches.
"""

from __future__ import annotations

__all__ = ["LiveRun", "Sink"]

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator

import anyio
import sniffio
from anyio import TaskHandle

from troupe.errors import TroupeError
from troupe.events import Event, UsageReported
from troupe.messages import Usage
from troupe.store import Lease, RunRecord, RunStatus
from troupe.teams import RunControl, Team

# A view handed a run's events as they are appended: (seq, event) -> whether to go on.
Sink = Callable[[int, Event], bool]


class _Futures:
    """Views waiting for a run's news, on asyncio: a future each (what ``asyncio.Event``
    makes for each of its waiters, without an event per wake-up)."""

    __slots__ = ("_loop", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: list[asyncio.Future[None]] = []

    def wait(self) -> Awaitable[None]:
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiting.append(future)
        return future

    def wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():  # not cancelled with its view
                future.set_result(None)


class _Events:
    """Views waiting for a run's news, on other event loops: an ``anyio.Event`` per wake-up."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def wait(self) -> Awaitable[None]:
        if self._event.is_set():
            self._event = anyio.Event()
        return self._event.wait()

    def wake(self) -> None:
        self._event.set()


class _Done:
    """An awaitable that is done at once (no checkpoint), as awaiting ``emit`` always was."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that ends at once


_DONE = _Done()


class LiveRun:
    """A run in this process, from its start until a while after it ended."""

    def __init__(
        self, record: RunRecord, team: Team, lease: Lease, *, events: list[Event] | None = None
    ) -> None:
        self.record = record
        self.team = team
        self.lease = lease
        self._created = record.created_at
        # The whole log, event 1 first (a run taken over loads what was stored before).
        self.events: list[Event] = events or []
        # When each event happened (ms since the run was created): the run's timeline.
        self.times: list[int] = [0] * len(self.events)
        # The last sequence number the store has.
        self.persisted = len(self.events)
        # What its model calls cost so far (a run taken over counts the calls before, too).
        self.usage = (
            sum((e.usage for e in self.events if type(e) is UsageReported), start=Usage())
            if self.events
            else Usage()
        )
        self.status: RunStatus = record.status
        self.stop_reason: str | None = None
        self.ended_at: float | None = None
        self.control = RunControl(run_id=record.id, scope=record.scope)
        # The task running it: cancelled to leave the run to another replica.
        self.task: TaskHandle[None] | None = None
        # Why it failed (its result's error), once it is over.
        self.error: TroupeError | None = None
        # The store has the run's record (it is written with the run's first commit).
        self.begun = False
        # Set when the run is over and its end is stored (or could not be): views may end.
        self.finished = anyio.Event()
        # This process stopped running it (shutting down, or its lease was taken over):
        # the run is not over, another replica carries on.
        self.detached = False
        # The run is over (``finished`` is set): a flag read at every token.
        self.over = False
        # Views waiting for news (a token at a model's pace wakes them once each).
        self._news = (
            _Futures(asyncio.get_running_loop())
            if sniffio.current_async_library() == "asyncio"
            else _Events()
        )
        self._waited = False
        # Called with each event as it is appended (metrics, traces): quick, never raising.
        self.listeners: list[Callable[[LiveRun, Event], None]] = []
        # Views handed each event as it is appended (``tap``), with what they wait on.
        self._taps: tuple[tuple[Sink, asyncio.Future[None]], ...] = ()

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def last_seq(self) -> int:
        return len(self.events)

    def append(self, event: Event) -> None:
        self.events.append(event)
        self.times.append(int((time.time() - self._created) * 1000))
        if type(event) is UsageReported:
            self.usage += event.usage
        if self.listeners:
            for listener in self.listeners:
                listener(self, event)
        if self._taps:
            seq = len(self.events)
            for sink, handed_back in self._taps:
                if not sink(seq, event):
                    self._untap(sink, handed_back)
        if self._waited:
            self._waited = False
            self._news.wake()

    def emit(self, event: Event) -> Awaitable[None]:
        """The run's ``Emit``: appends at once; what it returns is done already."""
        self.append(event)
        return _DONE

    @property
    def visible(self) -> int:
        """The last sequence number views may send. A background run's views send only what
        is stored: if this process dies, another replica goes on from the stored log, and an
        event a client received must never change (the writer stores a background run's
        events every ``live_flush_seconds``). Other runs end with their process: views
        send every event at once."""
        if self.record.background and not self.over:
            return self.persisted
        return len(self.events)

    def stored(self, last: int) -> None:
        """The store has the events up to ``last``."""
        if last > self.persisted:
            self.persisted = last
            if self.record.background and self._waited:
                self._waited = False
                self._news.wake()

    async def wait_after(self, seq: int) -> None:
        """Wait until views may send an event past ``seq``, or the run is finished."""
        while self.visible <= seq and not self.over:
            await self.news()

    @property
    def tappable(self) -> bool:
        """Whether views may be handed its events as they are appended (``tap``): on
        asyncio, and not a background run (its views send only what is stored)."""
        return not self.record.background and isinstance(self._news, _Futures)

    def tap(self, sink: Sink) -> asyncio.Future[None] | None:
        """Hand ``sink`` each event appended from now on, with its sequence number, as it is
        appended (on the run's task: a view that writes it at once costs no wake-up of its
        own). Until ``sink`` returns False or the run is over: then the returned future is
        done, and the view reads on from ``events`` itself. ``sink`` is quick and never
        raises. None once the run is over, or where it is not ``tappable``."""
        if self.over or not self.tappable:
            return None
        news = self._news
        assert isinstance(news, _Futures)  # tappable
        handed_back: asyncio.Future[None] = news._loop.create_future()
        self._taps += ((sink, handed_back),)
        return handed_back

    def untap(self, sink: Sink) -> None:
        """Stop handing ``sink`` events (a view that leaves)."""
        for entry in self._taps:
            if entry[0] is sink:
                self._untap(*entry)

    def _untap(self, sink: Sink, handed_back: asyncio.Future[None]) -> None:
        self._taps = tuple(entry for entry in self._taps if entry[0] is not sink)
        if not handed_back.done():
            handed_back.set_result(None)

    def news(self) -> Awaitable[None]:
        """Done at the next event views may send (or the run's end). A view checks
        ``visible`` and ``over`` first, then awaits this (no coroutine of its own)."""
        if self.over:
            return _DONE
        self._waited = True
        return self._news.wait()

    def finish(self, status: RunStatus, stop_reason: str | None, *, detached: bool = False) -> None:
        self.status = status
        self.stop_reason = stop_reason
        self.detached = detached
        self.ended_at = time.time()
        self.over = True
        self.finished.set()
        self._news.wake()
        for entry in self._taps:
            self._untap(*entry)
        # Kept a while for late followers: let go of what only running needed (fewer objects
        # for the garbage collector to walk).
        self.task = None
        self.control.release()

    def snapshot(self) -> RunRecord:
        """The run as ``GET /v1/runs/{id}`` shows it, from memory."""
        from msgspec import structs

        return structs.replace(
            self.record,
            status=self.status,
            stop_reason=self.stop_reason,
            usage=self.usage,
            last_event_id=self.last_seq,
            ended_at=self.ended_at if self.over else None,
        )
