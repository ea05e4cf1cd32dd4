"""The SQL store's run log: run records, event batches, and the leases runs hold.

``commit_runs`` writes what several runs gathered in one transaction: each
run's lease is renewed first (the fence: a run whose lease was taken over
writes nothing), then its events are appended as one row per batch, its
state saved when a step is complete, and its record closed when it is over.
On PostgreSQL the transaction also notifies the ``troupe_runs`` channel
(``events <run id>``), so replicas that follow the run read it at once.

A lease names its run and the process holding it (``host:pid:start``): a
replica on the same host can see at once that a lease's process is gone (a
restart after ``kill -9``) instead of waiting for the lease to expire.
"""

from __future__ import annotations

__all__ = ["NOTIFY_CHANNEL", "SQLRunStore", "lease_params"]

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.errors import ConversationBusyError
from troupe.messages import Usage
from troupe.store._base import Lease
from troupe.store._database import Database
from troupe.store._runs import ACTIVE, RunCommit, RunInput, RunRecord
from troupe.store._schema import conversations, leases, run_events, runs
from troupe.store._statements import Statements
from troupe.teams import RunState

NOTIFY_CHANNEL = "troupe_runs"
_encoder = msgspec.json.Encoder()
_input_decoder = msgspec.json.Decoder(RunInput)
_usage_decoder = msgspec.json.Decoder(Usage)
_times_decoder = msgspec.json.Decoder(list[int])
_RUN_COLUMNS = (
    runs.c.id,
    runs.c.scope,
    runs.c.conversation_id,
    runs.c.team,
    runs.c.status,
    runs.c.background,
    runs.c.input,
    runs.c.usage,
    runs.c.stop_reason,
    runs.c.last_event_id,
    runs.c.cancel_requested,
    runs.c.created_at,
    runs.c.updated_at,
    runs.c.ended_at,
)


def lease_params(lease: Lease, seconds: float) -> dict[str, Any]:
    """The parameters of the statements that name ``lease`` (see ``Statements``)."""
    return {
        "k_scope": lease.scope,
        "k_id": lease.conversation_id,
        "k_token": lease.token,
        "k_seconds": seconds,
    }


def _events_only(commit: RunCommit) -> bool:
    """A commit of a live run's new events and nothing else (the writer's flush)."""
    return (
        commit.begin is None
        and commit.state is None
        and commit.end is None
        and commit.last_seq >= commit.first_seq
    )


def _events_row(commit: RunCommit) -> dict[str, Any]:
    return {
        "run_id": commit.run_id,
        "first_seq": commit.first_seq,
        "last_seq": commit.last_seq,
        "data": commit.events,
        "times": commit.times or None,
    }


def _record(row: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        scope=row.scope,
        conversation_id=row.conversation_id,
        team=row.team,
        status=row.status,
        background=row.background,
        input=_input_decoder.decode(row.input),
        usage=_usage_decoder.decode(row.usage) if row.usage else Usage(),
        stop_reason=row.stop_reason,
        last_event_id=row.last_event_id,
        cancel_requested=row.cancel_requested,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )


T = TypeVar("T")


class SQLRunStore:
    """The run-log methods of ``SQLConversationStore`` (a mixin: it shares its database,
    transactions, clock and lease bookkeeping, declared here)."""

    lease_seconds: float
    run_retention_seconds: float | None
    _db: Database | None
    # Leases this process holds: token -> (scope, conversation id).
    _held: dict[str, tuple[str, str]]
    # Those of them on conversations their run minted, with no state saved yet (no row).
    _unsaved: set[str]

    async def _write(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        raise NotImplementedError

    async def _read(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        raise NotImplementedError

    def _clock(self) -> sa.ColumnElement[float]:
        raise NotImplementedError

    @property
    def _q(self) -> Statements:
        raise NotImplementedError

    @staticmethod
    def _key(table: sa.Table, scope: str, conversation_id: str) -> sa.ColumnElement[bool]:
        raise NotImplementedError

    def _renew(self, conn: Connection, lease: Lease) -> bool:
        raise NotImplementedError

    def _write_state(
        self,
        conn: Connection,
        state: RunState,
        *,
        scope: str,
        fingerprint: str | None,
        keep_fingerprint: bool = False,
        new: bool = False,
    ) -> None:
        raise NotImplementedError

    async def load(self, conversation_id: str, *, scope: str = "") -> RunState | None:
        raise NotImplementedError

    def _take_lease(
        self,
        conn: Connection,
        lease: Lease,
        run_id: str | None,
        owner: str | None,
        dead_owner: str | None = None,
    ) -> bool:
        """Take ``lease`` for ``run_id`` if the conversation's lease is free, expired, or
        held by ``dead_owner`` (a process known to be gone)."""
        params = {
            "k_seconds": self.lease_seconds,
            "scope": lease.scope,
            "conversation_id": lease.conversation_id,
            "token": lease.token,
            "stop_requested": False,
            "run_id": run_id,
            "owner": owner,
            "k_dead": dead_owner,
        }
        holder = self._q.take_lease.first(conn, params)
        taken = holder is not None and holder[0] == lease.token
        if taken:
            self._held[lease.token] = (lease.scope, lease.conversation_id)
        return taken

    def _save_state(self, conn: Connection, commit: RunCommit, *, new: bool) -> None:
        if commit.state is not None:
            self._unsaved.discard(commit.lease.token)
            self._write_state(
                conn,
                commit.state,
                scope=commit.scope,
                fingerprint=commit.fingerprint,
                keep_fingerprint=commit.fingerprint is None,
                new=new,
            )

    def _insert_events(self, conn: Connection, commit: RunCommit) -> None:
        if commit.last_seq >= commit.first_seq:
            self._q.insert_events.run(conn, _events_row(commit))

    def _notify(self, conn: Connection, commit: RunCommit) -> None:
        """PostgreSQL: tell the replicas following the run that it has new events."""
        if conn.dialect.name == "postgresql" and commit.last_seq >= commit.first_seq:
            payload = f"events {commit.run_id}"
            self._q.notify.run(conn, {"k_channel": NOTIFY_CHANNEL, "k_payload": payload})

    def _insert_run(self, conn: Connection, commit: RunCommit, values: dict[str, Any]) -> None:
        """The run's record, with ``values`` (its end's too when it ends in this commit)."""
        run = commit.begin
        assert run is not None
        (self._q.insert_run if commit.end is None else self._q.insert_ended_run).run(
            conn,
            {
                "id": run.id,
                "scope": run.scope,
                "conversation_id": run.conversation_id,
                "team": run.team,
                "status": run.status,
                "background": run.background,
                "input": _encoder.encode(run.input),
                "last_event_id": 0,
                "cancel_requested": False,
                # The run's own time: its chat-completion frames carry it as ``created``.
                "created_at": run.created_at or time.time(),
                **values,
            },
        )

    async def _take(self, lease: Lease, *, run_id: str | None, owner: str | None) -> None:
        """Take ``lease``, for run ``run_id`` of process ``owner`` (None: no run's)."""

        def work(conn: Connection) -> bool:
            return self._take_lease(conn, lease, run_id, owner)

        if not await self._write(work, quick=True):
            raise ConversationBusyError(
                f"conversation {lease.conversation_id!r} is busy with another request; "
                "retry when it ends"
            )

    async def take_conversation(
        self, lease: Lease, *, run_id: str, owner: str, load: bool
    ) -> RunState | None:
        await self._take(lease, run_id=run_id, owner=owner)
        return await self.load(lease.conversation_id, scope=lease.scope) if load else None

    async def commit_runs(self, commits: Sequence[RunCommit]) -> list[str | None]:
        def work(conn: Connection) -> list[str | None]:
            problems: list[str | None] = [None] * len(commits)
            # The periodic flush of live runs' events: each statement once for all of them.
            flushed = [i for i, c in enumerate(commits) if _events_only(c)]
            done = self._commit_events(conn, [commits[i] for i in flushed])
            for i, problem in zip(flushed, done, strict=True):
                problems[i] = problem
            for i, commit in enumerate(commits):
                if not _events_only(commit):
                    problems[i] = self._commit_one(conn, commit)
            return problems

        problems = await self._write(work, quick=True)
        for commit, problem in zip(commits, problems, strict=True):
            if (commit.end is not None and commit.release) or problem is not None:
                self._held.pop(commit.lease.token, None)
                self._unsaved.discard(commit.lease.token)
        return problems

    def _commit_one(self, conn: Connection, commit: RunCommit) -> str | None:
        """Store ``commit``; returns why it cannot be (its lease is gone), or None."""
        q = self._q
        token = commit.lease.token
        lease = lease_params(commit.lease, self.lease_seconds)
        minted = commit.begin is not None and token not in self._held
        release = commit.end is not None and commit.release
        if minted and release:
            # A run on a conversation it minted, begun and ended in this commit: its lease
            # would be taken and let go here, unseen (and the conversation is new).
            pass
        elif minted:  # a conversation minted by this run: nobody else can hold it
            q.new_lease.run(
                conn,
                {
                    **lease,
                    "scope": commit.scope,
                    "conversation_id": commit.conversation_id,
                    "token": token,
                    "stop_requested": False,
                    "run_id": commit.run_id,
                    "owner": commit.owner,
                },
            )
            self._held[token] = (commit.scope, commit.conversation_id)
            self._unsaved.add(token)
        # The fence: the lease is still the run's (renewed, or let go as the run ends).
        elif (q.release_lease if release else q.renew_lease).run(conn, lease) != 1:
            if commit.begin is not None:  # taken when the state was loaded
                return "the conversation is busy with another run"
            return "the run's lease was taken over by another run"
        values: dict[str, Any] = {}
        if commit.last_seq >= commit.first_seq:
            values["last_event_id"] = commit.last_seq
        if commit.end is not None:
            values.update(
                status=commit.end.status,
                stop_reason=commit.end.stop_reason,
                usage=_encoder.encode(commit.end.usage),
            )
        if commit.begin is not None:
            self._insert_run(conn, commit, values)
        self._insert_events(conn, commit)
        # A conversation minted by the run has no row until its first state is saved.
        self._save_state(conn, commit, new=(minted and release) or token in self._unsaved)
        if commit.begin is None:
            (q.update_run if commit.end is None else q.end_run).run(
                conn, {"k_run": commit.run_id, **values}
            )
        self._notify(conn, commit)
        return None

    def _commit_events(self, conn: Connection, batch: list[RunCommit]) -> list[str | None]:
        """Commits of new events only: their leases renewed, events inserted and runs
        updated in one statement each, when every lease still holds (else one by one)."""
        if len(batch) > 1 and conn.dialect.supports_sane_multi_rowcount:
            leases = [lease_params(c.lease, self.lease_seconds) for c in batch]
            if self._q.renew_lease.run(conn, leases) == len(batch):
                self._q.insert_events.run(conn, [_events_row(c) for c in batch])
                updates = [{"k_run": c.run_id, "last_event_id": c.last_seq} for c in batch]
                self._q.update_run.run(conn, updates)
                for commit in batch:
                    self._notify(conn, commit)
                return [None] * len(batch)
        return [self._commit_one(conn, commit) for commit in batch]

    async def get_run(self, run_id: str, *, scope: str | None = "") -> RunRecord | None:
        def work(conn: Connection) -> sa.Row[Any] | None:
            query = sa.select(*_RUN_COLUMNS).where(runs.c.id == run_id)
            if scope is not None:
                query = query.where(runs.c.scope == scope)
            return conn.execute(query).first()

        row = await self._read(work, quick=True)
        return _record(row) if row is not None else None

    async def run_events(self, run_id: str, *, after: int = 0) -> list[bytes]:
        def work(conn: Connection) -> list[sa.Row[Any]]:
            return list(
                conn.execute(
                    sa.select(run_events.c.first_seq, run_events.c.data)
                    .where(run_events.c.run_id == run_id, run_events.c.last_seq > after)
                    .order_by(run_events.c.first_seq)
                ).all()
            )

        out: list[bytes] = []
        for row in await self._read(work):
            out.extend(row.data.split(b"\n")[max(0, after + 1 - row.first_seq) :])
        return out

    async def run_event_times(self, run_id: str) -> list[int]:
        def work(conn: Connection) -> list[bytes | None]:
            return list(
                conn.execute(
                    sa.select(run_events.c.times)
                    .where(run_events.c.run_id == run_id)
                    .order_by(run_events.c.first_seq)
                ).scalars()
            )

        return [t for data in await self._read(work) for t in _times_decoder.decode(data or b"[]")]

    async def list_runs(
        self,
        *,
        scope: str = "",
        conversation_id: str | None = None,
        limit: int = 20,
    ) -> list[RunRecord]:
        def work(conn: Connection) -> list[sa.Row[Any]]:
            query = sa.select(*_RUN_COLUMNS).where(runs.c.scope == scope)
            if conversation_id is not None:
                query = query.where(runs.c.conversation_id == conversation_id)
            query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
            return list(conn.execute(query).all())

        return [_record(row) for row in await self._read(work)]

    async def active_run(self, conversation_id: str, *, scope: str = "") -> RunRecord | None:
        def work(conn: Connection) -> RunRecord | None:
            row = conn.execute(
                sa.select(*_RUN_COLUMNS)
                .where(
                    runs.c.scope == scope,
                    runs.c.conversation_id == conversation_id,
                    runs.c.status.in_(ACTIVE),
                )
                .order_by(runs.c.created_at.desc())
                .limit(1)
            ).first()
            if row is not None:
                return _record(row)
            # A run that has the conversation but whose record is not written yet.
            run_id = conn.execute(
                sa.select(leases.c.run_id).where(
                    self._key(leases, scope, conversation_id),
                    leases.c.run_id.is_not(None),
                    leases.c.expires_at > self._clock(),
                )
            ).scalar()
            if run_id is None:
                return None
            return RunRecord(id=run_id, scope=scope, conversation_id=conversation_id, team="")

        return await self._read(work)

    async def runs_holding_leases(self, *, scope: str) -> set[str]:
        def work(conn: Connection) -> set[str]:
            held = conn.execute(
                sa.select(leases.c.run_id).where(
                    leases.c.scope == scope,
                    leases.c.run_id.is_not(None),
                    leases.c.expires_at > self._clock(),
                )
            )
            return {run_id for (run_id,) in held}

        return await self._read(work)

    async def request_cancel(self, run_id: str) -> None:
        def work(conn: Connection) -> None:
            # The lease first, then the run: the order a run's own commits lock them in (the
            # other order deadlocks with a replica writing the run's events).
            # On its lease too: a run whose record is not written yet is stopped as well.
            conn.execute(
                leases.update().where(leases.c.run_id == run_id).values(stop_requested=True)
            )
            conn.execute(runs.update().where(runs.c.id == run_id).values(cancel_requested=True))
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, f"cancel {run_id}")))

        await self._write(work)

    async def cancel_requests(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()
        ids = list(run_ids)

        def work(conn: Connection) -> set[str]:
            asked = set(
                conn.execute(
                    sa.select(runs.c.id).where(runs.c.id.in_(ids), runs.c.cancel_requested)
                ).scalars()
            )
            asked.update(
                conn.execute(
                    sa.select(leases.c.run_id).where(
                        leases.c.run_id.in_(ids), leases.c.stop_requested
                    )
                ).scalars()
            )
            return asked

        return await self._read(work)

    async def orphaned_runs(self, owner_alive: Callable[[str], bool]) -> list[RunRecord]:
        def work(conn: Connection) -> list[sa.Row[Any]]:
            joined = runs.outerjoin(
                leases,
                sa.and_(
                    leases.c.scope == runs.c.scope,
                    leases.c.conversation_id == runs.c.conversation_id,
                ),
            )
            return list(
                conn.execute(
                    sa.select(
                        *_RUN_COLUMNS,
                        leases.c.token.label("lease_token"),
                        leases.c.owner.label("lease_owner"),
                        (leases.c.expires_at <= self._clock()).label("lease_expired"),
                    )
                    .select_from(joined)
                    .where(runs.c.status.in_(ACTIVE))
                    .order_by(runs.c.created_at)
                    .limit(500)
                ).all()
            )

        return [
            _record(row)
            for row in await self._read(work)
            if row.lease_token is None
            or row.lease_expired
            or (row.lease_owner is not None and not owner_alive(row.lease_owner))
        ]

    async def claim_run(
        self,
        run: RunRecord,
        *,
        lease: Lease,
        owner: str,
        owner_alive: Callable[[str], bool],
    ) -> RunState | Literal[False] | None:
        def work(conn: Connection) -> bool:
            status = conn.execute(sa.select(runs.c.status).where(runs.c.id == run.id)).scalar()
            if status not in ACTIVE:
                return False
            held = conn.execute(
                sa.select(leases.c.owner).where(self._key(leases, run.scope, run.conversation_id))
            ).scalar()
            dead = held if held is not None and not owner_alive(held) else None
            return self._take_lease(conn, lease, run.id, owner, dead_owner=dead)

        if not await self._write(work):
            return False
        return await self.load(run.conversation_id, scope=run.scope)

    def run_notifications(
        self,
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, str]]] | None:
        database = self._db
        listen = getattr(database, "listen", None)
        return listen(NOTIFY_CHANNEL) if listen is not None else None

    def _purge_runs(self, conn: Connection, expired: sa.ColumnElement[bool] | None) -> None:
        """Delete runs past their retention, and the runs of conversations that expire
        (``expired``: which conversations)."""
        doomed: list[sa.ColumnElement[bool]] = []
        if self.run_retention_seconds is not None:
            doomed.append(runs.c.ended_at < self._clock() - self.run_retention_seconds)
        if expired is not None:
            doomed.append(
                sa.tuple_(runs.c.scope, runs.c.conversation_id).in_(
                    sa.select(conversations.c.scope, conversations.c.id).where(expired)
                )
            )
        if not doomed:
            return
        old = sa.or_(*doomed)
        conn.execute(
            run_events.delete().where(run_events.c.run_id.in_(sa.select(runs.c.id).where(old)))
        )
        conn.execute(runs.delete().where(old))

    async def delete_run(self, run_id: str, *, scope: str = "") -> bool:
        def work(conn: Connection) -> bool:
            mine = sa.and_(runs.c.id == run_id, runs.c.scope == scope, runs.c.status.not_in(ACTIVE))
            if conn.execute(sa.select(runs.c.id).where(mine)).first() is None:
                return False
            conn.execute(run_events.delete().where(run_events.c.run_id == run_id))
            return bool(conn.execute(runs.delete().where(mine)).rowcount)

        return await self._write(work)

    def _delete_runs(self, conn: Connection, scope: str, conversation_id: str) -> int:
        """Delete the conversation's runs and their logs; returns how many runs."""
        mine = sa.and_(runs.c.scope == scope, runs.c.conversation_id == conversation_id)
        conn.execute(
            run_events.delete().where(run_events.c.run_id.in_(sa.select(runs.c.id).where(mine)))
        )
        return int(conn.execute(runs.delete().where(mine)).rowcount)
