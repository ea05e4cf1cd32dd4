"""The SQL store: SQLite (the default, one file) or PostgreSQL (several replicas).

Saving a run is one transaction: the run's lease is renewed (fencing: a run
whose lease was taken over saves nothing), the transcript items the run added
are appended as rows, and the conversation row gets the new state head and
fingerprint. A process killed at any point leaves the conversation as it was
at its last commit.

Leases are rows with an expiry, taken with one ``INSERT .. ON CONFLICT DO
UPDATE .. WHERE expired`` statement, so two replicas can never both hold one;
``maintain`` renews the leases of runs in progress, so only a dead process's
lease runs out. Times come from the database's clock.
"""

from __future__ import annotations

__all__ = ["SQLConversationStore"]

import logging
import math
import sqlite3
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.errors import ConversationBusyError
from troupe.messages import Message
from troupe.store._base import ConversationSummary, Lease, StoredConversation
from troupe.store._database import Database, open_database
from troupe.store._errors import StoreError
from troupe.store._schema import (
    SCHEMA_REVISION,
    VERSION_TABLE,
    conversations,
    items,
    leases,
)
from troupe.store._sql_keys import SQLKeyStore
from troupe.store._sql_runs import SQLRunStore, lease_params
from troupe.store._statements import SUMMARY, Statements, alive
from troupe.store._titles import title_of
from troupe.store._url import DatabaseUrl, parse_database_url
from troupe.teams import RunState

logger = logging.getLogger("troupe.store")

T = TypeVar("T")
_encoder = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(RunState)
_items_decoder = msgspec.json.Decoder(tuple[Message, ...])
# Errors that mean the database is out of reach, not that troupe has a bug (SQLite's
# driver raises its own from the statements it runs itself: locked, disk full, ...).
_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sqlite3.OperationalError, OSError)
# SQLSTATEs of a transaction PostgreSQL rolled back to let others on (deadlock,
# serialization failure): tried again, up to _RETRIES times in all.
_TRANSIENT = frozenset({"40P01", "40001"})
_RETRIES = 4


def _sqlstate(err: sa.exc.DBAPIError) -> str | None:
    for found in (err.orig, getattr(err.orig, "__cause__", None)):
        code = getattr(found, "sqlstate", None) or getattr(found, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


class SQLConversationStore(SQLRunStore, SQLKeyStore):
    """Conversations in SQLite or PostgreSQL, by URL (see ``parse_database_url``).

    ``migrate``: bring the schema to the current revision when opened (else
    refuse to run on an older schema). ``lease_seconds``: how long a lease
    lasts without renewal, i.e. how long a conversation stays busy after its
    process died. ``ttl_seconds``: conversations unused that long are gone.
    """

    def __init__(
        self,
        url: str | DatabaseUrl,
        *,
        lease_seconds: float = 30.0,
        ttl_seconds: float | None = None,
        migrate: bool = True,
        run_retention_seconds: float | None = 7 * 24 * 3600.0,
    ) -> None:
        self.url = parse_database_url(url) if isinstance(url, str) else url
        if self.url.kind == "memory":
            raise ValueError("SQLConversationStore needs a SQLite or PostgreSQL URL")
        self.lease_seconds = lease_seconds
        self.ttl_seconds = ttl_seconds
        self.run_retention_seconds = run_retention_seconds
        self.migrate = migrate
        self.revision: str | None = None
        self._db: Database | None = None
        self._finalizer: weakref.finalize[[], SQLConversationStore] | None = None
        self._open_lock = anyio.Lock()
        # Leases this process holds: token -> (scope, conversation id).
        self._held: dict[str, tuple[str, str]] = {}
        self._unsaved: set[str] = set()
        self._statements: Statements | None = None

    @property
    def opened(self) -> bool:
        return self.revision is not None

    def __repr__(self) -> str:
        return f"SQLConversationStore({self.url.display!r})"

    # --- opening and upkeep -------------------------------------------------------------

    async def open(self) -> None:
        """Connect and migrate (once; later calls return at once)."""
        if self.opened:
            return
        async with self._open_lock:
            if self.revision is not None:  # opened by another task meanwhile
                return
            try:
                if self._db is None:
                    self._db = open_database(self.url)
                    self._finalizer = weakref.finalize(self, self._db.dispose_now)
                    self._statements = Statements(self._db.now(), self._db.dialect)
                revision = await self._db.read(_schema_revision)
                if revision != SCHEMA_REVISION and self.migrate:
                    from troupe.store._migrate import upgrade

                    revision = await upgrade(self._db)
                elif revision != SCHEMA_REVISION:
                    raise StoreError(
                        f"the database schema at {self.url.display} is at revision "
                        f"{revision!r}, this troupe needs {SCHEMA_REVISION!r}: "
                        "run 'troupe db upgrade'"
                    )
            except StoreError:
                raise
            except Exception as err:  # whatever the driver raises: the database is unusable
                raise StoreError(f"cannot open {self.url.display}: {_reason(err)}") from err
            logger.info("conversations in %s (schema revision %s)", self.url.display, revision)
            self.revision = revision

    async def check_ready(self) -> None:
        """Raise ``StoreError`` unless the database answers with this troupe's schema."""
        revision = await self._read(_schema_revision)
        if revision != SCHEMA_REVISION:
            raise StoreError(
                f"the database schema at {self.url.display} is at revision {revision!r}, "
                f"this troupe needs {SCHEMA_REVISION!r}: run 'troupe db upgrade'"
            )

    async def maintain(self) -> None:
        """Renew this process's leases every third of ``lease_seconds``; drop expired
        conversations now and then. Runs until cancelled; errors are logged, not raised."""
        interval = self.lease_seconds / 3
        purge_every = max(interval, min(self.ttl_seconds or 0.0, 3600.0) / 10)
        purged_at = -math.inf
        while True:
            try:
                await self.renew()
                if anyio.current_time() - purged_at >= purge_every:
                    purged_at = anyio.current_time()
                    dropped = await self.purge_expired()
                    if dropped:
                        logger.info("dropped %d expired conversation(s)", dropped)
            except Exception as err:
                logger.warning("conversation store upkeep failed: %s", _reason(err))
            await anyio.sleep(interval)

    async def renew(self) -> int:
        """Extend the leases of the runs this process has in progress; returns how many."""
        tokens = list(self._held)
        renewed = 0
        for start in range(0, len(tokens), 500):
            chunk = tokens[start : start + 500]

            def work(conn: Connection, chunk: list[str] = chunk) -> int:
                result = conn.execute(
                    leases.update()
                    .where(leases.c.token.in_(chunk))
                    .values(expires_at=self._clock() + self.lease_seconds)
                )
                return int(result.rowcount)

            renewed += await self._write(work)
        return renewed

    async def purge_expired(self) -> int:
        """Delete conversations past the TTL, and leases left by dead processes."""

        def work(conn: Connection) -> int:
            clock = self._clock()
            conn.execute(leases.delete().where(leases.c.expires_at < clock - 3600.0))
            if self.ttl_seconds is None:
                self._purge_runs(conn, None)
                return 0
            expired = conversations.c.updated_at < clock - self.ttl_seconds
            self._purge_runs(conn, expired)
            conn.execute(
                items.delete().where(
                    sa.tuple_(items.c.scope, items.c.conversation_id).in_(
                        sa.select(conversations.c.scope, conversations.c.id).where(expired)
                    )
                )
            )
            return int(conn.execute(conversations.delete().where(expired)).rowcount)

        return await self._write(work)

    async def close(self) -> None:
        self._held.clear()
        self._unsaved.clear()
        if self._db is not None:
            if self._finalizer is not None:
                self._finalizer.detach()
            await self._db.dispose()
            self._db = self._finalizer = None
        self.revision = None

    # --- transactions -------------------------------------------------------------------

    async def _database(self) -> Database:
        await self.open()
        assert self._db is not None
        return self._db

    async def _write(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        """``work`` in a read-write transaction. ``quick``: a few rows a request waits for
        (SQLite runs it on the event loop when it can: see ``troupe.store._database``)."""
        database = await self._database()
        for attempt in range(_RETRIES):
            try:
                return await database.write(work, quick=quick)
            except _UNAVAILABLE as err:
                raise StoreError(f"the conversation store is unavailable: {_reason(err)}") from err
            except sa.exc.DBAPIError as err:
                # PostgreSQL chose this transaction to end a deadlock (or a serialization
                # conflict): nothing was written, so it is run again.
                if _sqlstate(err) not in _TRANSIENT or attempt == _RETRIES - 1:
                    raise
                logger.info("retrying a transaction: %s", _reason(err))
                await anyio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _read(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        database = await self._database()
        try:
            return await database.read(work, quick=quick)
        except _UNAVAILABLE as err:
            raise StoreError(f"the conversation store is unavailable: {_reason(err)}") from err

    def _clock(self) -> sa.ColumnElement[float]:
        assert self._db is not None
        return self._db.now()

    @property
    def _q(self) -> Statements:
        assert self._statements is not None
        return self._statements

    def _alive(self) -> sa.ColumnElement[bool]:
        if self.ttl_seconds is None:
            return sa.true()
        return alive(self._clock(), self.ttl_seconds)

    def _ttl(self) -> float:
        """``k_ttl`` of the prebuilt statements."""
        return math.inf if self.ttl_seconds is None else self.ttl_seconds

    @staticmethod
    def _key(table: sa.Table, scope: str, conversation_id: str) -> sa.ColumnElement[bool]:
        id_column = table.c.id if table is conversations else table.c.conversation_id
        return sa.and_(table.c.scope == scope, id_column == conversation_id)

    # --- conversations ------------------------------------------------------------------

    async def load(self, conversation_id: str, *, scope: str = "") -> RunState | None:
        stored = await self.get(conversation_id, scope=scope)
        return stored.state if stored is not None else None

    async def get(self, conversation_id: str, *, scope: str = "") -> StoredConversation | None:
        def work(conn: Connection) -> tuple[ConversationSummary, bytes, list[bytes]] | None:
            key = {"k_scope": scope, "k_id": conversation_id}
            row = self._q.conversation.first(conn, {**key, "k_ttl": self._ttl()})
            if row is None:
                return None
            summary, head = _summary(row), row[len(SUMMARY)]
            items = self._q.transcript.all(conn, {**key, "k_count": summary.items})
            return summary, head, [data for (data,) in items]

        found = await self._read(work, quick=True)
        if found is None:
            return None
        summary, head, data = found
        transcript = _items_decoder.decode(b"[" + b",".join(data) + b"]")
        state = msgspec.structs.replace(_state_decoder.decode(head), transcript=transcript)
        return StoredConversation(summary=summary, state=state)

    async def list_conversations(
        self, *, scope: str = "", limit: int = 20, after: str | None = None
    ) -> list[ConversationSummary]:
        def work(conn: Connection) -> list[sa.Row[Any]]:
            query = (
                sa.select(*SUMMARY)
                .where(conversations.c.scope == scope, self._alive())
                .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
                .limit(limit)
            )
            if after is not None:
                created = conn.execute(
                    sa.select(conversations.c.created_at).where(
                        self._key(conversations, scope, after), self._alive()
                    )
                ).scalar()
                if created is None:
                    raise KeyError(after)
                query = query.where(
                    sa.tuple_(conversations.c.created_at, conversations.c.id)
                    < sa.tuple_(sa.literal(created, sa.Double), sa.literal(after))
                )
            return list(conn.execute(query).all())

        return [_summary(row) for row in await self._read(work)]

    async def save(
        self,
        state: RunState,
        *,
        fingerprint: str | None = None,
        scope: str = "",
        lease: Lease | None = None,
    ) -> None:
        def work(conn: Connection) -> None:
            if lease is not None and not self._renew(conn, lease):
                raise ConversationBusyError(
                    f"conversation {state.conversation_id!r} was taken over by another request "
                    "while this run was in progress; its result is not saved"
                )
            self._write_state(conn, state, scope=scope, fingerprint=fingerprint)

        await self._write(work)

    def _renew(self, conn: Connection, lease: Lease) -> bool:
        """Extend ``lease`` if it still holds its conversation (the fence of every write)."""
        return self._q.renew_lease.run(conn, lease_params(lease, self.lease_seconds)) == 1

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
        """Save ``state`` (in the caller's transaction): the run's new transcript items are
        appended, the conversation row gets the new state head (and ``fingerprint``).
        ``new``: the conversation's id was minted by the run, it has no row yet."""
        conversation_id = state.conversation_id
        head = _encoder.encode(msgspec.structs.replace(state, transcript=()))
        transcript = state.transcript
        pending = state.pending_input
        key = {"k_scope": scope, "k_id": conversation_id}
        row = None if new else self._q.lock_conversation.first(conn, key)
        # Transcripts only grow: the run's new items are appended. A state that does not
        # extend the stored transcript (saved from elsewhere) replaces it.
        count, stored_bytes, title = row if row is not None else (0, 0, "")
        start = count if count <= len(transcript) else 0
        if start:
            last = self._q.last_item.first(conn, {**key, "k_seq": start - 1})
            if last is None or last[0] != _encoder.encode(transcript[start - 1]):
                start = 0
        added = [_encoder.encode(message) for message in transcript[start:]]
        size = (stored_bytes if start else 0) + sum(map(len, added))
        values: dict[str, Any] = {
            "team": state.team,
            "state": head,
            "item_count": len(transcript),
            "transcript_bytes": size,
            "waiting_for": pending.agent if pending is not None else None,
        }
        if not keep_fingerprint:
            values["fingerprint"] = fingerprint
        if row is None:
            self._q.insert_conversation.run(
                conn,
                {
                    "scope": scope,
                    "id": conversation_id,
                    "title": title_of(transcript),
                    **values,
                    "fingerprint": fingerprint,
                },
            )
        else:
            if not title:
                values["title"] = title_of(transcript)
            self._q.update_conversation.run(conn, {**key, **values})
            if start == 0:
                self._q.delete_items.run(conn, key)
        if added:
            self._q.insert_items.run(
                conn,
                [
                    {
                        "scope": scope,
                        "conversation_id": conversation_id,
                        "seq": start + i,
                        "data": d,
                    }
                    for i, d in enumerate(added)
                ],
            )

    async def find(self, fingerprint: str, *, scope: str = "") -> str | None:
        def work(conn: Connection) -> str | None:
            params = {"k_fingerprint": fingerprint, "k_scope": scope, "k_ttl": self._ttl()}
            row = self._q.find.first(conn, params)
            return row[0] if row is not None else None

        return await self._read(work, quick=True)

    async def delete(self, conversation_id: str, *, scope: str = "") -> bool:
        def work(conn: Connection) -> bool:
            # Items go with their conversation (ON DELETE CASCADE); said here too, for
            # SQLite files opened elsewhere with foreign keys off.
            conn.execute(items.delete().where(self._key(items, scope, conversation_id)))
            runs_deleted = self._delete_runs(conn, scope, conversation_id)
            result = conn.execute(
                conversations.delete().where(self._key(conversations, scope, conversation_id))
            )
            # A conversation whose only run ended before its first turn has runs, no row.
            return bool(result.rowcount or runs_deleted)

        return await self._write(work)

    # --- leases and stop requests -------------------------------------------------------

    async def acquire(self, conversation_id: str, *, scope: str = "") -> Lease:
        lease = Lease(conversation_id, uuid.uuid4().hex, scope)
        # Only a lease that ran out (its process died) is taken over; no run holds this one.
        await self._take(lease, run_id=None, owner=None)
        return lease

    async def release(self, lease: Lease) -> None:
        self._held.pop(lease.token, None)
        self._unsaved.discard(lease.token)

        def work(conn: Connection) -> None:
            conn.execute(
                leases.delete().where(
                    self._key(leases, lease.scope, lease.conversation_id),
                    leases.c.token == lease.token,
                )
            )

        await self._write(work, quick=True)


def _schema_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: no schema yet), read without Alembic."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    found: str | None = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return found


def _summary(row: Sequence[Any]) -> ConversationSummary:
    """A conversation's summary from a row that starts with the ``SUMMARY`` columns."""
    id, team, title, created_at, updated_at, item_count, waiting_for = row[: len(SUMMARY)]
    return ConversationSummary(
        id=id,
        team=team,
        title=title,
        created_at=created_at,
        updated_at=updated_at,
        items=item_count,
        waiting_for=waiting_for,
    )


def _reason(err: BaseException) -> str:
    if isinstance(err, sa.exc.DBAPIError) and err.orig is not None:
        return f"{type(err.orig).__name__}: {err.orig}".strip()
    return f"{type(err).__name__}: {err}"
