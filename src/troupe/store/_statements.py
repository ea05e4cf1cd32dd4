"""The statements of a run's commit, built once per database.

Building a SQLAlchemy statement costs about 100 µs of CPU (its elements, their
coercions, its cache key); one built once with bind parameters and executed
with a dict of values costs about 20 µs, and SQLAlchemy's execution context
about 60 µs more. A run's commit executes four to ten, so those are built here
once, with the database's clock in them. Where-clause parameters are named
``k_*``; other keys of the dict are the columns set.

On SQLite a statement's SQL is compiled once for each set of keys it is given
(as SQLAlchemy's own cache would), with named parameters, and run by the
``sqlite3`` driver on the transaction's connection: the dict of values goes to
the driver as it is (with the clock's reading, ``troupe_now``), and nothing of
SQLAlchemy runs per execution. The tables' columns need no conversion of
their values on SQLite (text, numbers, bytes, booleans as integers), and no
column has a default computed in Python, so what is written is the same. On
PostgreSQL statements run through SQLAlchemy.
"""

from __future__ import annotations

__all__ = ["SUMMARY", "Statement", "Statements", "alive"]

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler

from troupe.store._schema import conversations, items, leases, run_events, runs

# The name of SQLite's clock parameter (``SQLiteDatabase.now``).
NOW = "troupe_now"
_SQLITE = sqlite.dialect(paramstyle="named")
Params = Mapping[str, Any]
# A conversation's listing columns (``ConversationSummary``), in its order.
SUMMARY = (
    conversations.c.id,
    conversations.c.team,
    conversations.c.title,
    conversations.c.created_at,
    conversations.c.updated_at,
    conversations.c.item_count,
    conversations.c.waiting_for,
)


def alive(
    now: sa.ColumnElement[float], ttl: float | sa.BindParameter[float]
) -> sa.ColumnElement[bool]:
    """Conversations used within ``ttl`` seconds (a number, or a bind parameter)."""
    return conversations.c.updated_at >= now - ttl


def _key(table: sa.Table) -> sa.ColumnElement[bool]:
    """The where clause of a conversation's rows: ``k_scope`` and ``k_id``."""
    id_column = table.c.id if table is conversations else table.c.conversation_id
    return sa.and_(table.c.scope == sa.bindparam("k_scope"), id_column == sa.bindparam("k_id"))


def _upsert(dialect: str) -> Callable[[sa.Table], Any]:
    """The dialect's INSERT, which has ``on_conflict_do_update`` (PostgreSQL's is loaded
    only for PostgreSQL: a SQLite server does without its modules)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    return sqlite.insert


class Statement:
    """A statement built once, run through SQLAlchemy. ``params``: a dict of values, or
    a list of them (one execution each, ``executemany``)."""

    __slots__ = ("clause",)

    def __init__(self, clause: sa.Executable) -> None:
        self.clause = clause

    def run(self, conn: Connection, params: Params | Sequence[Params]) -> int:
        """Execute; returns the number of rows changed."""
        return int(conn.execute(self.clause, params).rowcount)

    def first(self, conn: Connection, params: Params) -> tuple[Any, ...] | None:
        """The first row of the result (None: no row)."""
        row = conn.execute(self.clause, params).first()
        return tuple(row) if row is not None else None

    def all(self, conn: Connection, params: Params) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(self.clause, params)]


class SQLiteStatement(Statement):
    """A statement built once, run by the ``sqlite3`` driver itself."""

    __slots__ = ("_sql",)

    def __init__(self, clause: sa.Executable) -> None:
        super().__init__(clause)
        # Its SQL by the keys it is given with (an INSERT or UPDATE sets the columns named),
        # and the values of the parameters the statement has itself (a LIMIT's, a constant).
        self._sql: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}

    def _compile(self, keys: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        clause = cast(sa.ClauseElement, self.clause)
        compiled = cast(SQLCompiler, clause.compile(dialect=_SQLITE, column_keys=list(keys)))
        own = {
            name: bind.value
            for name, bind in compiled.binds.items()
            if bind.value is not None and bind.callable is None
        }
        found = self._sql[keys] = (compiled.string, own)
        return found

    def _cursor(self, conn: Connection, params: Params | Sequence[Params]) -> sqlite3.Cursor:
        driver = cast(sqlite3.Connection, conn.connection.dbapi_connection)
        now = time.time()
        # (The store's values are dicts: asked first, they skip the ABC's isinstance.)
        if type(params) is dict or isinstance(params, Mapping):
            keys = tuple(params)
            sql, own = self._sql.get(keys) or self._compile(keys)
            return driver.execute(sql, {**own, **params, NOW: now})
        keys = tuple(params[0])
        sql, own = self._sql.get(keys) or self._compile(keys)
        return driver.executemany(sql, [{**own, **p, NOW: now} for p in params])

    def run(self, conn: Connection, params: Params | Sequence[Params]) -> int:
        cursor = self._cursor(conn, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Params) -> tuple[Any, ...] | None:
        cursor = self._cursor(conn, params)
        try:
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
        finally:
            cursor.close()

    def all(self, conn: Connection, params: Params) -> list[tuple[Any, ...]]:
        cursor = self._cursor(conn, params)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()


class Statements:
    """``now``: the database's clock; ``dialect``: ``sqlite`` (run by the driver) or
    ``postgresql``."""

    def __init__(self, now: sa.ColumnElement[float], dialect: str) -> None:
        make = SQLiteStatement if dialect == "sqlite" else Statement
        lease = sa.and_(_key(leases), leases.c.token == sa.bindparam("k_token"))
        expires = now + sa.bindparam("k_seconds", type_=sa.Double)
        self.renew_lease = make(leases.update().where(lease).values(expires_at=expires))
        # A lease of a conversation minted by its run: nobody else can hold it.
        self.new_lease = make(leases.insert().values(expires_at=expires))
        self.release_lease = make(leases.delete().where(lease))
        # Take a conversation's lease for a run, if it is free, expired, or held by
        # ``k_dead`` (a process known to be gone; None: none); returns the holder's token.
        insert = _upsert(dialect)(leases).values(expires_at=expires)
        self.take_lease = make(
            insert.on_conflict_do_update(
                index_elements=[leases.c.scope, leases.c.conversation_id],
                set_={
                    "token": insert.excluded.token,
                    "expires_at": insert.excluded.expires_at,
                    "stop_requested": False,
                    "run_id": insert.excluded.run_id,
                    "owner": insert.excluded.owner,
                },
                where=sa.or_(leases.c.expires_at <= now, leases.c.owner == sa.bindparam("k_dead")),
            ).returning(leases.c.token)
        )

        self.insert_run = make(runs.insert().values(updated_at=now))
        self.insert_ended_run = make(runs.insert().values(updated_at=now, ended_at=now))
        update_run = runs.update().where(runs.c.id == sa.bindparam("k_run")).values(updated_at=now)
        self.update_run = make(update_run)
        self.end_run = make(update_run.values(ended_at=now))
        self.insert_events = make(run_events.insert())
        # PostgreSQL: tell the replicas following a run that it has new events.
        self.notify = Statement(
            sa.select(sa.func.pg_notify(sa.bindparam("k_channel"), sa.bindparam("k_payload")))
        )

        self.lock_conversation = make(
            sa.select(
                conversations.c.item_count,
                conversations.c.transcript_bytes,
                conversations.c.title,
            )
            .where(_key(conversations))
            .with_for_update()
        )
        self.last_item = make(
            sa.select(items.c.data).where(_key(items), items.c.seq == sa.bindparam("k_seq"))
        )
        # Conversations used within ``k_ttl`` seconds (infinity: all).
        used = alive(now, sa.bindparam("k_ttl", type_=sa.Double))
        self.conversation = make(
            sa.select(*SUMMARY, conversations.c.state).where(_key(conversations), used)
        )
        self.transcript = make(
            sa.select(items.c.data)
            .where(_key(items), items.c.seq < sa.bindparam("k_count"))
            .order_by(items.c.seq)
        )
        self.find = make(
            sa.select(conversations.c.id)
            .where(
                conversations.c.fingerprint == sa.bindparam("k_fingerprint"),
                conversations.c.scope == sa.bindparam("k_scope"),
                used,
            )
            .order_by(conversations.c.updated_at.desc())
            .limit(1)
        )
        self.insert_conversation = make(
            conversations.insert().values(created_at=now, updated_at=now)
        )
        self.update_conversation = make(
            conversations.update().where(_key(conversations)).values(updated_at=now)
        )
        self.delete_items = make(items.delete().where(_key(items)))
        self.insert_items = make(items.insert())
