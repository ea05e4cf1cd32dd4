"""The log writer: every run's writes to the store, grouped into few transactions.

A run hands the writer a commit (its record at its start, its state after a
step, its end) and, except for the start, waits until it is stored. The writer
takes everything that is waiting, adds the events every live run gathered
since its last write, and stores it all in one transaction. So a run's events
never cost a write of their own: they ride along with commits, or go out
every ``flush_seconds`` for the views on other replicas.

A run's start does not wait: it lingers up to ``linger_seconds`` for company,
so a short run's start and end usually share one transaction. The commit of
the only run in progress, while nothing is being written, is written at once
on the run's own task (with whatever else waits): no wake-up of the writer and
back. With runs side by side, commits go through the writer, and share writes.
"""

from __future__ import annotations

__all__ = ["LogWriter", "RunLostError"]

import logging
from collections.abc import Callable, Collection

import anyio
import anyio.lowlevel
import msgspec

from troupe.errors import RunError
from troupe.runs._live import LiveRun
from troupe.store import ConversationStore, RunCommit, RunEnd, StoreError, encode_events
from troupe.teams import RunState

logger = logging.getLogger("troupe.runs")
_encode = msgspec.json.Encoder().encode


class RunLostError(RunError):
    """Another replica took the run's conversation over: this process no longer runs it."""

    code = "run_lost"


class _Request:
    __slots__ = ("begin", "done", "end", "error", "fingerprint", "release", "run", "state")

    def __init__(
        self,
        run: LiveRun,
        *,
        begin: bool = False,
        state: RunState | None = None,
        fingerprint: str | None = None,
        end: RunEnd | None = None,
        release: bool = True,
        waits: bool = True,
    ) -> None:
        self.run = run
        self.begin = begin
        self.state = state
        self.fingerprint = fingerprint
        self.end = end
        self.release = release
        # Set once written, for a commit that waits for the writer (a run's start: nobody
        # waits; a commit written on its own task does not wait either).
        self.done = anyio.Event() if waits and not begin else None
        self.error: Exception | None = None


class LogWriter:
    def __init__(
        self,
        store: ConversationStore,
        owner: str,
        live: Callable[[], Collection[LiveRun]],
        *,
        flush_seconds: float = 1.0,
        linger_seconds: float = 0.02,
        live_flush_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.owner = owner
        self.flush_seconds = flush_seconds
        self.linger_seconds = linger_seconds
        self.live_flush_seconds = live_flush_seconds
        self._live = live
        self._pending: list[_Request] = []
        self._wake = anyio.Event()
        # Held while a write is on (the writer's, or a commit's on its run's task).
        self._writing = anyio.Lock(fast_acquire=True)
        # The writer's wait between writes, while it waits (``soon`` shortens it).
        self._sleep: anyio.CancelScope | None = None
        self._soon = False

    def begin(self, run: LiveRun) -> None:
        """Record ``run`` (and take its lease) with the next write, within ``linger_seconds``;
        nobody waits for it. The writer is not woken: a run that ends sooner (most do)
        has its start written with its end, in one transaction and one wake-up."""
        self._pending.append(_Request(run, begin=True))
        self._due(self.linger_seconds)

    async def commit(
        self,
        run: LiveRun,
        *,
        state: RunState | None = None,
        fingerprint: str | None = None,
        end: RunEnd | None = None,
    ) -> None:
        """Store ``run``'s events so far, with ``state`` and ``end``; return once stored.

        Raises ``RunLostError`` when the run's lease was taken over, ``StoreError`` when
        the store cannot be reached. Not cancellable: a commit always finishes.
        """
        # Nothing is being written and no other run may want to share the write.
        idle = not self._writing.locked() and len(self._live()) <= 1
        request = _Request(run, state=state, fingerprint=fingerprint, end=end, waits=not idle)
        self._pending.append(request)
        with anyio.CancelScope(shield=True):
            if idle:  # this task writes it (with what else waits), then lets others run
                await self.write()
                self._rested()
                await anyio.lowlevel.checkpoint()
            else:  # the next write takes it
                self._wake.set()
                assert request.done is not None
                await request.done.wait()
        if request.error is not None:
            raise request.error

    def soon(self, run: LiveRun, _: object = None) -> None:
        """A background run has events its views wait for (it calls this as it appends
        them): the next write comes within ``live_flush_seconds``, not ``flush_seconds``."""
        if self._soon or not run.begun:
            return
        self._soon = True
        self._due(self.live_flush_seconds)

    def _due(self, seconds: float) -> None:
        """The next write within ``seconds``: the writer's wait is cut short, if it waits
        (else it is writing, and looks at what is pending when it is done)."""
        sleep = self._sleep
        if sleep is not None:
            deadline = anyio.current_time() + seconds
            if sleep.deadline > deadline:
                sleep.deadline = deadline

    def _rested(self) -> None:
        """After a write on a run's task: the writer's wait, cut short for what that write
        took, is as long as what is left to write asks."""
        sleep = self._sleep
        if sleep is not None and not self._pending:
            sleep.deadline = anyio.current_time() + self._period()

    async def serve(self) -> None:
        """Write until cancelled; what is pending then is written first."""
        try:
            while True:
                with anyio.move_on_after(self._period()) as self._sleep:
                    self._soon = False
                    await self._wake.wait()
                self._sleep = None
                # A commit made during the write wakes the next one.
                self._wake = anyio.Event()
                await self.write()
        finally:
            with anyio.CancelScope(shield=True):
                await self.write()

    def _period(self) -> float:
        """Until the next write: ``linger_seconds`` when starts wait (a run's start waits a
        moment for its end), soon when a background run has events its views wait for
        (they send only what is stored), else ``flush_seconds``."""
        if self._pending:
            return min(self.linger_seconds, self.flush_seconds)
        for run in self._live():
            if run.record.background and run.begun and run.last_seq > run.persisted:
                return min(self.live_flush_seconds, self.flush_seconds)
        return self.flush_seconds

    async def write(self) -> None:
        """Write everything pending, and every live run's unwritten events, now (after the
        write that is on, if one is)."""
        async with self._writing:
            await self._write()

    async def _write(self) -> None:
        requests, self._pending = self._pending, []
        batches: dict[str, list[_Request]] = {}
        for request in requests:
            batches.setdefault(request.run.id, []).append(request)
        runs = {run.id: run for run in self._live() if run.begun and run.last_seq > run.persisted}
        runs.update((r.run.id, r.run) for r in requests)
        commits: list[RunCommit] = []
        order: list[tuple[LiveRun, int]] = []
        for run_id, run in runs.items():
            if run.detached:
                continue
            commit = self._commit(run, batches.get(run_id, []))
            if commit is not None:
                commits.append(commit)
                order.append((run, commit.last_seq))
        error: Exception | None = None
        problems: list[str | None] = [None] * len(commits)
        if commits:
            try:
                problems = await self.store.commit_runs(commits)
            except StoreError as err:
                error = err
            except Exception:  # the data of a run (or a bug): the others must not pay for it
                logger.exception("writing the run log failed")
                problems = await self._one_by_one(commits, [run for run, _ in order])
        lost: dict[str, str] = {}
        for (run, last), problem in zip(order, problems, strict=True):
            if error is not None:
                continue
            if problem is None:
                run.stored(last)
                run.begun = True
            else:
                lost[run.id] = problem
        for request in requests:
            if error is not None:
                request.error = error
            elif request.run.id in lost:
                request.error = RunLostError(
                    f"run {request.run.id!r} cannot be stored: {lost[request.run.id]}"
                )
            if request.done is not None:
                request.done.set()
        if error is not None and commits and not requests:
            logger.warning("writing the run log failed: %s", error)

    async def _one_by_one(self, commits: list[RunCommit], runs: list[LiveRun]) -> list[str | None]:
        """Each run's commit alone, after a batch failed: a run whose data the store
        refuses fails alone (it is stopped, and not written again), the others are written."""
        problems: list[str | None] = []
        for commit, run in zip(commits, runs, strict=True):
            try:
                [problem] = await self.store.commit_runs([commit])
            except StoreError as err:
                problem = err.message
            except Exception as err:
                problem = f"the store refused the run's data ({type(err).__name__})"
                logger.error("run %s cannot be stored: %s: %s", run.id, type(err).__name__, err)
                run.detached = True
                run.control.stop("failed", error=RunLostError(f"the run {problem}"))
            problems.append(problem)
        return problems

    def _commit(self, run: LiveRun, requests: list[_Request]) -> RunCommit | None:
        if not (run.begun or requests):
            return None  # its start is not written yet: its events wait for it
        last = run.last_seq
        state = fingerprint = end = None
        release = True
        for request in requests:
            if request.state is not None:
                state, fingerprint = request.state, request.fingerprint
            if request.end is not None:
                end, release = request.end, request.release
        # Until the run's record is stored, every write of the run starts by storing it.
        record = None if run.begun else msgspec.structs.replace(run.record, status="in_progress")
        return RunCommit(
            run_id=run.id,
            scope=run.record.scope,
            conversation_id=run.record.conversation_id,
            lease=run.lease,
            owner=self.owner,
            begin=record,
            first_seq=run.persisted + 1,
            last_seq=last,
            events=encode_events(run.events[run.persisted : last]),
            times=_encode(run.times[run.persisted : last]),
            state=state,
            fingerprint=fingerprint,
            end=end,
            release=release,
        )
