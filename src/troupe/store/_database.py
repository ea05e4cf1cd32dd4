"""Running a transaction on SQLite or PostgreSQL: the store's code is the same for both.

Every transaction is a plain function of a SQLAlchemy ``Connection``. On
PostgreSQL it runs through asyncpg (SQLAlchemy's async engine, ``run_sync``);
on SQLite it runs on a worker thread with the standard ``sqlite3`` driver, one
thread hop per transaction rather than one per statement.

SQLite: WAL (readers never wait for the writer), ``synchronous=NORMAL`` (no
fsync per commit: a power cut may lose the last commits, never the database),
a busy timeout (writers of other processes wait their turn), foreign keys on,
and ``BEGIN IMMEDIATE`` for writes, so a transaction takes the write lock
when it starts instead of failing halfway when another writer got there
first. The writers of one process take turns on a lock before that, so they
never sleep in SQLite's busy handler. The pooled connections have no threads
of their own and are closed by ``dispose``, or when the store is
garbage-collected.

PostgreSQL: a pool of asyncpg connections, checked before use; reads run at
REPEATABLE READ so that the statements of one read see the same commit.
"""

from __future__ import annotations

__all__ = ["BUSY_TIMEOUT", "Database", "open_database"]

import contextlib
import importlib.util
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.store._url import DatabaseUrl

T = TypeVar("T")
# Seconds a SQLite writer waits for another process's writer to commit.
BUSY_TIMEOUT = 15.0


class Database(Protocol):
    dialect: str

    async def write(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a read-write transaction, committed if it returns."""
        ...

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a read-only transaction with a consistent view."""
        ...

    def now(self) -> sa.ColumnElement[float]:
        """The database's clock, in seconds since the epoch."""
        ...

    async def dispose(self) -> None: ...

    def dispose_now(self) -> None:
        """Close what can be closed without an event loop (for a store never closed)."""
        ...


def open_database(url: DatabaseUrl) -> Database:
    if url.kind == "sqlite":
        return SQLiteDatabase(url)
    if url.kind == "postgresql":
        return PostgresDatabase(url)
    raise ValueError(f"no database for {url.display}")


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, url: DatabaseUrl) -> None:
        assert url.path is not None
        url.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(
            url.sqlalchemy,
            pool_size=8,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT},
        )
        sa.event.listen(self.engine, "connect", _sqlite_connect)
        sa.event.listen(self.engine, "begin", _sqlite_begin)
        self._writer = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None

    def _threads(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(8)
        return self._limiter

    async def write(self, work: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._writer, self.engine.connect() as conn:
                return _transaction(conn, work, "BEGIN IMMEDIATE")

        # Not abandoned on cancellation: a transaction always ends before its caller does.
        return await anyio.to_thread.run_sync(run, limiter=self._threads())

    async def read(self, work: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.engine.connect() as conn:
                return _transaction(conn, work, "BEGIN")

        return await anyio.to_thread.run_sync(run, limiter=self._threads())

    def now(self) -> sa.ColumnElement[float]:
        # One machine's processes share a file, and a clock: the time is read when the
        # statement runs, to the microsecond (SQLite's julianday('now') has milliseconds,
        # which orders rows written in the same millisecond at random).
        return sa.bindparam("troupe_now", callable_=time.time, type_=sa.Double)

    async def dispose(self) -> None:
        await anyio.to_thread.run_sync(self.engine.dispose)

    def dispose_now(self) -> None:
        self.engine.dispose()


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _: Any) -> None:
    # The driver's own transaction handling would BEGIN lazily and DEFERRED; we BEGIN ourselves.
    dbapi_connection.isolation_level = None
    _use_wal(dbapi_connection)
    dbapi_connection.execute("PRAGMA synchronous=NORMAL").close()
    dbapi_connection.execute("PRAGMA foreign_keys=ON").close()


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch a new database file to WAL (it stays so). Switching needs the file to itself,
    and SQLite does not wait for that: when other processes open it too, try again."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if mode.lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # on a worker thread: nothing else waits for it


def _transaction(conn: Connection, work: Callable[[Connection], T], begin: str) -> T:
    """``work`` in a transaction the driver begins and ends (SQLAlchemy's own would cost
    about 20 µs more). SQLAlchemy's transaction, begun when ``work`` executes through it,
    is then only a name for this one (see ``_sqlite_begin``)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    driver.execute(begin).close()
    try:
        result = work(conn)
    except BaseException:
        driver.rollback()
        raise
    driver.commit()
    return result


def _sqlite_begin(connection: Connection) -> None:
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    if not driver.in_transaction:  # else inside ``_transaction``
        driver.execute("BEGIN IMMEDIATE").close()


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: DatabaseUrl) -> None:
        self.url = url
        if importlib.util.find_spec("asyncpg") is None:
            raise ModuleNotFoundError(
                "PostgreSQL needs asyncpg: pip install 'troupe-server[postgres]' "
                "(from a clone: uv sync --extra postgres)",
                name="asyncpg",
            )
        # Loaded here: SQLAlchemy's asyncio extension brings its ORM (half a second of
        # imports a SQLite server does without).
        from sqlalchemy.ext.asyncio import create_async_engine

        self.engine = create_async_engine(
            url.sqlalchemy, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800
        )

    async def write(self, work: Callable[[Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                return await conn.run_sync(work)

    def now(self) -> sa.ColumnElement[float]:
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Double)

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[AsyncIterator[tuple[str, str]]]:
        """The notifications of ``channel`` (``pg_notify``), as (kind, subject) pairs from
        payloads ``"<kind> <subject>"``, on a connection of their own. The iteration ends
        when that connection is lost."""
        import asyncpg

        dsn = self.url.sqlalchemy.replace("postgresql+asyncpg:", "postgresql:", 1)
        connection = await asyncpg.connect(dsn, timeout=10)
        send, receive = anyio.create_memory_object_stream[tuple[str, str]](10_000)

        def deliver(_: object, __: int, ___: str, payload: str) -> None:
            kind, _sep, subject = payload.partition(" ")
            # A notification may still arrive once the listening is over (closed stream).
            with contextlib.suppress(
                anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError
            ):
                send.send_nowait((kind, subject))

        def lost(_: object) -> None:
            send.close()

        try:
            connection.add_termination_listener(lost)
            await connection.add_listener(channel, deliver)
            async with receive:
                yield receive
        finally:
            send.close()
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await connection.close(timeout=5)

    async def dispose(self) -> None:
        await self.engine.dispose()

    def dispose_now(self) -> None:
        # asyncpg connections can only be closed on their event loop: close() does that.
        return None
