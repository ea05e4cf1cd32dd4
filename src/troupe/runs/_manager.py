"""The run manager: the one place that owns runs.

``start`` takes the conversation's lease, loads its state and starts the team
in the manager's own task group, so a run outlives the HTTP response that
asked for it; responses (and every other protocol) only watch its log
(``follow``) and may ask it to stop (``cancel``). A run's life:

    lease → load → run: each step committed with its events → end committed, lease released

The manager also takes over runs whose process died (``recover``): a
background run continues from its last committed step under the same id, any
other run ends ``failed`` with its completed turns kept. ``drain`` is the
shutdown: no new runs, a grace period for those in progress, then background
runs are left, checkpointed, to another replica.
"""

from __future__ import annotations

__all__ = ["RunManager"]

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import anyio
import msgspec

from troupe import logs
from troupe._ids import unique_hex
from troupe.errors import (
    ConversationBusyError,
    ConversationNotRunningError,
    RequestError,
    RequestTooLargeError,
)
from troupe.events import Event, RunResumed, RunStarted
from troupe.messages import Message
from troupe.runs._finished import RECENT_SECONDS, FinishedRuns
from troupe.runs._live import LiveRun
from troupe.runs._observe import RunObserver
from troupe.runs._owner import current_owner, owner_alive
from troupe.runs._recovery import LOST, end_orphan, lost_events
from troupe.runs._remote import RemoteRuns
from troupe.runs._types import (
    Admission,
    RunNotFoundError,
    RunSettings,
    RunStart,
    ServerShuttingDownError,
    busy_error,
    check_input,
    is_run_id,
    new_conversation_id,
    new_run_id,
)
from troupe.runs._writer import LogWriter, RunLostError
from troupe.store import (
    ACTIVE,
    ConversationStore,
    Lease,
    RunEnd,
    RunRecord,
    StoreError,
    decode_events,
    encoded_size,
)
from troupe.teams import RunState, Team, settle

logger = logging.getLogger("troupe.runs")

Fingerprint = Callable[[RunRecord, Sequence[Event]], str]


class RunManager:
    def __init__(
        self,
        teams: Mapping[str, Team],
        store: ConversationStore,
        settings: RunSettings | None = None,
        *,
        fingerprint: Fingerprint | None = None,
        observers: Sequence[RunObserver] = (),
    ) -> None:
        self.teams = dict(teams)
        self.observers = list(observers)
        self.store = store
        self.settings = settings or RunSettings()
        self.owner = current_owner()
        self.accepting = True
        # Runs of this process by id, from their start until they are forgotten (a while
        # after their end, for late followers); those not over yet.
        self._runs: dict[str, LiveRun] = {}
        self._live: dict[str, LiveRun] = {}
        self._finished = FinishedRuns(self._runs)
        # Conversations a run of this process holds: (scope, id) -> the run (None while
        # its lease is being taken).
        self._busy: dict[tuple[str, str], LiveRun | None] = {}
        self._fingerprint = fingerprint
        self._writer = LogWriter(
            store, self.owner, self._running, flush_seconds=self.settings.flush_seconds
        )
        self._tg: anyio.abc.TaskGroup | None = None
        self._started = anyio.Event()
        self._replicas = RemoteRuns(store, self.settings.poll_seconds)
        self._enqueued: dict[tuple[str, str], anyio.Lock] = {}
        self.admission: Admission | None = None

    @property
    def active_runs(self) -> int:
        return len(self._live)

    def _running(self) -> list[LiveRun]:
        return list(self._live.values())

    # --- serving ------------------------------------------------------------------------

    async def serve(self) -> None:
        """Own every run, the log writer, recovery and notifications until cancelled."""
        self.accepting = True
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._writer.serve)
            tg.start_soon(self._recover_loop)
            tg.start_soon(self._replicas.poll_cancels, self._running)
            tg.start_soon(self._replicas.listen, self._runs)
            tg.start_soon(self._janitor)
            self._started.set()
            try:
                await anyio.sleep_forever()
            finally:
                self._tg = None

    async def ready(self) -> None:
        """Wait until ``serve`` runs: runs may start from then on."""
        await self._started.wait()

    async def drain(self, grace: float) -> None:
        """Stop taking runs; give those in progress ``grace`` seconds, then stop the rest:
        background runs are left checkpointed for another replica, the others end failed."""
        self.accepting = False
        with anyio.move_on_after(grace):
            for run in self._running():
                await run.finished.wait()
        for run in self._running():
            if run.record.background:
                # Not over: stop running it here, as checkpointed, for another replica.
                run.detached = True
                if run.task is not None:
                    run.task.cancel()
            else:
                run.control.stop(
                    "server shutting down",
                    error=ServerShuttingDownError("the server shut down before the run ended"),
                )
        with anyio.move_on_after(10):
            for run in self._running():
                await run.finished.wait()

    # --- starting -----------------------------------------------------------------------

    def team(self, name: str) -> Team:
        from troupe.errors import ModelNotFoundError

        team = self.teams.get(name)
        if team is None:
            known = ", ".join(sorted(self.teams)) or "none"
            raise ModelNotFoundError(
                f"The model '{name}' does not exist (teams: {known})", param="model"
            )
        return team

    async def start(self, start: RunStart) -> LiveRun:
        """Start a run; raises the request's errors (busy, too large, …) before it starts."""
        if not self.accepting:
            raise ServerShuttingDownError("the server is shutting down; retry on another replica")
        team = self.team(start.team)
        if self.admission is not None:
            await self.admission.admit(start)
        run_id = new_run_id()
        minted = start.conversation_id is None
        conversation_id = start.conversation_id or new_conversation_id()
        lease = Lease(conversation_id, unique_hex(), start.scope)
        key = (start.scope, conversation_id)
        if minted:
            # Nothing can be stored under an id minted just now: no store round trip.
            state = team.new_state(conversation_id)
            new = check_input(team, state, start.all_messages or start.messages, start)
        else:
            stored = await self._take(key, lease, run_id)
            try:
                state, new = self._prepare(team, conversation_id, stored, start)
                if state.run is not None:
                    state = await self._supersede(state, lease)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.store.release(lease)
                self._busy.pop(key, None)
                raise
        record = RunRecord(
            id=run_id,
            scope=start.scope,
            conversation_id=conversation_id,
            team=team.name,
            status="in_progress",
            background=start.background,
            input=msgspec.structs.replace(start.input, messages=tuple(new)),
            created_at=time.time(),
        )
        run = LiveRun(record, team, lease)
        if record.background:  # its views send what is stored: its events are written soon
            run.listeners.append(self._writer.soon)
        self._runs[run_id] = self._live[run_id] = self._busy[key] = run
        run.append(RunStarted(agent=team.name, run_id=run_id, conversation_id=conversation_id))
        self._writer.begin(run)
        self._spawn(run, state, tuple(new))
        return run

    async def stored(self, run: LiveRun) -> None:
        """Return once the store has ``run``'s record (and its events so far), so every
        replica finds it: for views that answer with a run's id before it ends."""
        if not run.begun and not run.finished.is_set():
            await self._writer.commit(run)

    async def _take(self, key: tuple[str, str], lease: Lease, run_id: str) -> RunState | None:
        """The conversation's lease and state, by the busy policy."""
        if self.settings.busy_policy == "reject":
            if key in self._busy:
                raise busy_error(key[1])
            self._busy[key] = None
            try:
                return await self.store.take_conversation(
                    lease, run_id=run_id, owner=self.owner, load=True
                )
            except BaseException:
                self._busy.pop(key, None)
                raise
        lock = self._enqueued.setdefault(key, anyio.Lock())
        with anyio.move_on_after(self.settings.busy_wait_seconds):
            async with lock:
                delay = 0.02
                while True:
                    if key in self._busy:
                        holder = self._busy[key]
                        if holder is not None:
                            await holder.finished.wait()
                        else:
                            await anyio.sleep(delay)
                        continue
                    self._busy[key] = None
                    try:
                        with anyio.CancelScope(shield=True):
                            return await self.store.take_conversation(
                                lease, run_id=run_id, owner=self.owner, load=True
                            )
                    except ConversationBusyError:
                        self._busy.pop(key, None)
                    await anyio.sleep(delay)
                    delay = min(delay * 1.5, 0.5)
        raise ConversationBusyError(
            f"conversation {key[1]!r} is still busy with another request after waiting "
            f"{self.settings.busy_wait_seconds:g} s (server.busy_wait_seconds); retry later"
        )

    def _prepare(
        self, team: Team, conversation_id: str, stored: RunState | None, start: RunStart
    ) -> tuple[RunState, tuple[Message, ...]]:
        if stored is None:
            state = team.new_state(conversation_id)
            return state, check_input(team, state, start.all_messages or start.messages, start)
        if stored.team == "":
            # Created empty (POST /v1/conversations): the first run's team takes it.
            stored = msgspec.structs.replace(stored, team=team.name)
        if stored.team != team.name:
            raise RequestError(
                f"conversation {conversation_id!r} belongs to team {stored.team!r}, "
                f"not {team.name!r}",
                param="conversation_id",
            )
        limit = self.settings.max_transcript_bytes
        if limit is not None:
            size = encoded_size(stored.transcript) + encoded_size(start.messages)
            if size > limit:
                raise RequestTooLargeError(
                    f"conversation {conversation_id!r} would hold {size} bytes of transcript, "
                    f"over the limit of {limit} bytes (server.max_transcript_bytes); "
                    "start a new conversation",
                    param="messages",
                    code="conversation_too_large",
                )
        check_input(team, stored, start.messages, start)
        return stored, start.messages

    async def _supersede(self, state: RunState, lease: Lease) -> RunState:
        """A run of the conversation died mid-way and nobody took it over: it ends failed
        (its completed steps kept), and the new run starts after it."""
        flight = state.run
        assert flight is not None
        orphan = await self.store.get_run(flight.id, scope=lease.scope)
        if orphan is not None and orphan.status in ACTIVE:
            await end_orphan(self.store, orphan, flight.usage, lease)
        return settle(state)

    def _spawn(self, run: LiveRun, state: RunState, new: tuple[Message, ...]) -> None:
        if self._tg is None:
            raise RuntimeError(
                "troupe's run manager is not running: the app's lifespan was not started "
                "(mounted in another ASGI app, run troupe's lifespan from the host's: "
                "see examples/mount_asgi.py)"
            )
        for observer in self.observers:
            observer.run_started(run)
        run.task = self._tg.start_soon(self._execute, run, state, new, name=f"run {run.id}")

    # --- running ------------------------------------------------------------------------

    async def _execute(self, run: LiveRun, state: RunState, new: tuple[Message, ...]) -> None:
        record = run.record
        logs.bind(run_id=run.id, conversation_id=record.conversation_id, team=record.team)

        async def checkpoint(step: RunState) -> None:
            await self._writer.commit(run, state=step)

        run.control.checkpoint = checkpoint
        try:
            with contextlib.ExitStack() as contexts:
                for observer in self.observers:
                    context = observer.run_context(run)
                    if context is not None:
                        contexts.enter_context(context)
                result = await run.team.run(
                    state, new, run.emit, control=run.control, options=record.input.options
                )
        except anyio.get_cancelled_exc_class():
            if run.detached:  # its task cancelled (a shutdown): stored as last committed
                with anyio.CancelScope(shield=True):
                    await self._detach(run)
            raise
        run.error = result.error
        status = result.status
        # A run that kept nothing (it failed or was stopped in its first step) leaves the
        # conversation as it was.
        saved = None if result.state is state else result.state
        fingerprint = (
            self._fingerprint(run.record, run.events)
            if saved is not None and self._fingerprint is not None
            else None
        )
        end = RunEnd(status=status, stop_reason=result.stop_reason, usage=result.usage)
        try:
            await self._writer.commit(run, state=saved, fingerprint=fingerprint, end=end)
        except RunLostError as err:
            logger.warning("run %s ended elsewhere: %s", run.id, err.message)
            run.finish(status, result.stop_reason, detached=True)
            self._forget(run)
            return
        except StoreError as err:
            logger.error("run %s could not be stored at its end: %s", run.id, err.message)
            status = "failed"
        if run.detached:  # the store refused its data: not written, its lease let go
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self.store.release(run.lease)
        run.finish(status, result.stop_reason)
        self._forget(run)
        if not record.input.keep:
            await self._discard(run)

    async def _discard(self, run: LiveRun) -> None:
        """Delete a run over whose starter asked not to keep it: its views already have its
        events (they follow the run in memory); it is not found afterwards."""
        self._runs.pop(run.id, None)
        with anyio.CancelScope(shield=True):
            try:
                await self.store.delete_run(run.id, scope=run.record.scope)
            except StoreError as err:
                logger.warning("run %s could not be deleted: %s", run.id, err.message)

    async def _detach(self, run: LiveRun) -> None:
        """Stop running ``run`` here without ending it: its events so far are stored and
        its lease let go, so another replica takes it over from its last step at once."""
        try:
            await self._writer.commit(run)
            await self.store.release(run.lease)
        except (StoreError, RunLostError) as err:
            logger.warning("run %s left without its last events: %s", run.id, err.message)
        run.finish("in_progress", None, detached=True)
        self._forget(run)

    def _forget(self, run: LiveRun) -> None:
        """Free the conversation now; the run stays in memory a little for late followers."""
        self._live.pop(run.id, None)
        for observer in self.observers:
            try:
                observer.run_ended(run)
            except Exception:  # an observer's bug must not stop the next runs
                logger.exception("a run observer failed")
        key = (run.record.scope, run.record.conversation_id)
        if self._busy.get(key) is run:
            del self._busy[key]
        self._finished.add(run)

    async def _janitor(self) -> None:
        """Drop finished runs from memory once they are old, runs ending or not."""
        while True:
            await anyio.sleep(RECENT_SECONDS)
            self._finished.drop()

    # --- reading and following ----------------------------------------------------------

    def holds(self, conversation_id: str, scope: str) -> bool:
        """Whether a run of this process is advancing the conversation."""
        return (scope, conversation_id) in self._busy

    def forget_conversation(self, conversation_id: str, scope: str) -> None:
        """Drop the finished runs of a deleted conversation from memory too."""
        for run_id, run in list(self._runs.items()):
            record = run.record
            mine = (record.scope, record.conversation_id) == (scope, conversation_id)
            if mine and run.finished.is_set():
                del self._runs[run_id]

    def forget_run(self, run_id: str) -> None:
        """Drop a deleted run from memory too, once it is over."""
        run = self._runs.get(run_id)
        if run is not None and run.finished.is_set():
            del self._runs[run_id]

    def local_runs(self, conversation_id: str, scope: str) -> list[RunRecord]:
        """The runs of this process on the conversation, newest first (their records may not
        be stored yet)."""
        mine = [
            run.snapshot()
            for run in self._runs.values()
            if (run.record.scope, run.record.conversation_id) == (scope, conversation_id)
        ]
        return sorted(mine, key=lambda r: r.created_at, reverse=True)

    def local(self, run_id: str, scope: str | None) -> LiveRun | None:
        run = self._runs.get(run_id)
        if run is not None and scope is not None and run.record.scope != scope:
            return None
        return run

    async def get(self, run_id: str, scope: str) -> RunRecord:
        if not is_run_id(run_id):  # not one of ours: no need to ask the store
            raise RunNotFoundError(f"run {run_id[:80]!r} not found", param="run_id")
        run = self.local(run_id, scope)
        if run is not None:
            return run.snapshot()
        record = await self.store.get_run(run_id, scope=scope)
        if record is None:
            raise RunNotFoundError(f"run {run_id!r} not found", param="run_id")
        return record

    async def events(self, run_id: str, scope: str) -> tuple[RunRecord, list[Event]]:
        """A finished or running run's record and its events so far."""
        run = self.local(run_id, scope)
        if run is not None:
            return run.snapshot(), list(run.events)
        record = await self.get(run_id, scope)
        return record, decode_events(b"\n".join(await self.store.run_events(run_id)))

    async def follow(
        self, run_id: str, scope: str, after: int, *, live: LiveRun | None = None
    ) -> AsyncIterator[tuple[int, list[Event]]]:
        """The run's events after ``after`` as (first seq, events) batches, live until the
        run is over. A run of this process is read from memory (``live``, when the view
        holds it: a run that is not kept is forgotten as it ends); another replica's from
        the store, woken by its notifications (or polled)."""
        run = live or self.local(run_id, scope)
        if run is not None:
            while True:
                visible = run.visible
                if visible > after:
                    batch = run.events[after:visible]
                    yield after + 1, batch
                    after += len(batch)
                elif run.over:
                    return
                else:
                    await run.news()
        record = await self.get(run_id, scope)
        while True:
            data = await self.store.run_events(run_id, after=after)
            if data:
                batch = decode_events(b"\n".join(data))
                yield after + 1, batch
                after += len(batch)
                continue
            if record.status not in ACTIVE:
                return
            await self._replicas.wait(run_id)
            refreshed = await self.store.get_run(run_id, scope=scope)
            if refreshed is None:
                return
            record = refreshed

    # --- stopping -----------------------------------------------------------------------

    async def cancel(self, run_id: str, scope: str, *, wait: float = 5.0) -> RunRecord:
        """Stop the run now, on whichever replica runs it; returns it as it then stands."""
        run = self.local(run_id, scope)
        if run is not None:
            return await self._stop_local(run, wait)
        record = await self.get(run_id, scope)
        if record.status not in ACTIVE:
            return record
        return await self._replicas.stop(record, wait)

    async def stop_conversation(self, conversation_id: str, scope: str) -> RunRecord:
        """Stop the conversation's run in progress (409 when none is)."""
        run = self._busy.get((scope, conversation_id))
        if run is not None:
            return await self._stop_local(run, 5.0)
        record = await self.store.active_run(conversation_id, scope=scope)
        if record is None:
            raise ConversationNotRunningError(
                f"conversation {conversation_id!r} has no run in progress",
                param="conversation_id",
            )
        return await self._replicas.stop(record, 5.0)

    async def _stop_local(self, run: LiveRun, wait: float) -> RunRecord:
        if not run.finished.is_set():
            run.control.stop("cancelled")
            with anyio.move_on_after(wait):
                await run.finished.wait()
        return run.snapshot()

    # --- recovery -----------------------------------------------------------------------

    async def _recover_loop(self) -> None:
        while True:
            try:
                await self.recover()
            except StoreError as err:
                logger.warning("looking for runs to take over failed: %s", err.message)
            await anyio.sleep(self.settings.lease_seconds / 3)

    async def recover(self) -> int:
        """Take over the runs whose process died; returns how many."""
        if not self.accepting:
            return 0
        taken = 0
        for orphan in await self.store.orphaned_runs(owner_alive):
            if orphan.id in self._runs or orphan.team not in self.teams:
                continue
            lease = Lease(orphan.conversation_id, unique_hex(), orphan.scope)
            state = await self.store.claim_run(
                orphan, lease=lease, owner=self.owner, owner_alive=owner_alive
            )
            if state is False:
                continue
            taken += 1
            await self._take_over(orphan, lease, state)
        return taken

    async def _take_over(self, orphan: RunRecord, lease: Lease, state: RunState | None) -> None:
        team = self.teams[orphan.team]
        events = decode_events(b"\n".join(await self.store.run_events(orphan.id)))
        run = LiveRun(orphan, team, lease, events=events)
        run.begun = True
        key = (orphan.scope, orphan.conversation_id)
        self._runs[orphan.id] = self._live[orphan.id] = self._busy[key] = run
        state = state or team.new_state(orphan.conversation_id)
        ours = state.run is not None and state.run.id == orphan.id
        if not orphan.background:
            logger.warning("run %s lost its process: it ends failed", orphan.id)
            usage = state.run.usage if ours and state.run else orphan.usage
            for event in lost_events(orphan, usage):
                run.append(event)
            end = RunEnd(status="failed", stop_reason=f"error: {LOST}", usage=usage)
            settled = settle(state) if ours else None
            fingerprint = (
                self._fingerprint(orphan, run.events) if settled and self._fingerprint else None
            )
            try:
                await self._writer.commit(run, state=settled, fingerprint=fingerprint, end=end)
            finally:
                run.finish("failed", end.stop_reason)
                self._forget(run)
            return
        logger.info("run %s lost its process: continuing it here", orphan.id)
        run.listeners.append(self._writer.soon)
        run.append(RunResumed(agent=team.name, reason=LOST))
        if ours:
            self._spawn(run, state, ())
        else:
            self._spawn(run, settle(state), orphan.input.messages)
