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

SQLite, on the event loop: a transaction a request waits for (``quick``: a
run's commit, a lease, a conversation's load) runs on the loop's own
connection when the write lock can be had at once, without a thread hop (the
hop cost more than the transaction: about 250 µs of CPU for one of 7
statements). SQLite holds the loop only while it copies pages into the OS's
cache: that connection never waits (no busy timeout: when another process
writes, the transaction goes to a worker thread and waits there) and never
checkpoints (a checkpoint syncs the disk): every ``CHECKPOINT_EVERY`` of its
commits, a thread of the database's own copies the WAL into the file.

PostgreSQL: a pool of asyncpg connections, checked before use; reads run at
REPEATABLE READ so that the statements of one read see the same commit.
"""

from __future__ import annotations

__all__ = ["BUSY_TIMEOUT", "CHECKPOINT_EVERY", "Database", "open_database"]

import contextlib
import importlib.util
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar, cast

import anyio
import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.store._url import DatabaseUrl

T = TypeVar("T")
logger = logging.getLogger("troupe.store")
# Seconds a SQLite writer waits for another process's writer to commit.
BUSY_TIMEOUT = 15.0
# Commits of the event loop's SQLite connection between two checkpoints (SQLite's own
# default is every 1,000 pages of WAL: a run's commit writes about 35).
CHECKPOINT_EVERY = 32
# What an inline transaction returns when SQLite is busy with another connection.
_BUSY: Any = object()


class Database(Protocol):
    dialect: str

    async def write(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        """``work`` in a read-write transaction, committed if it returns. ``quick``: a
        few rows a request waits for (SQLite may run it on the event loop)."""
        ...

    async def read(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
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
        # The event loop's connection (opened on first use) and its checkpoints.
        self._loop_conn: Connection | None = None
        self._checkpoints = _Checkpoints(str(url.path))

    def _threads(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(8)
        return self._limiter

    async def write(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        if quick:
            conn = self._loop_conn or await self._open_loop_connection()
            # Not waited for: this process's writer on a thread has it, the thread waits.
            if self._writer.acquire(blocking=False):
                try:
                    result = _inline(conn, work, "BEGIN IMMEDIATE")
                finally:
                    self._writer.release()
                if result is not _BUSY:
                    self._checkpoints.committed()
                    return cast(T, result)

        def run() -> T:
            with self._writer, self.engine.connect() as conn:
                return _transaction(conn, work, "BEGIN IMMEDIATE")

        # Not abandoned on cancellation: a transaction always ends before its caller does.
        return await anyio.to_thread.run_sync(run, limiter=self._threads())

    async def read(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        if quick:
            conn = self._loop_conn or await self._open_loop_connection()
            result = _inline(conn, work, "BEGIN")
            if result is not _BUSY:
                return cast(T, result)

        def run() -> T:
            with self.engine.connect() as conn:
                return _transaction(conn, work, "BEGIN")

        return await anyio.to_thread.run_sync(run, limiter=self._threads())

    async def _open_loop_connection(self) -> Connection:
        """The event loop's connection: never back in the pool (its settings are its own:
        it never waits for a lock, never checkpoints). Opened on a thread (opening may
        wait for the file)."""

        def connect() -> Connection:
            conn = self.engine.connect()
            driver = cast(sqlite3.Connection, conn.connection.dbapi_connection)
            driver.execute("PRAGMA busy_timeout=0").close()
            driver.execute("PRAGMA wal_autocheckpoint=0").close()
            return conn

        conn = await anyio.to_thread.run_sync(connect, limiter=self._threads())
        if self._loop_conn is not None:  # another task opened it meanwhile
            _close(conn)
            return self._loop_conn
        self._loop_conn = conn
        return conn

    def now(self) -> sa.ColumnElement[float]:
        # One machine's processes share a file, and a clock: the time is read when the
        # statement runs, to the microsecond (SQLite's julianday('now') has milliseconds,
        # which orders rows written in the same millisecond at random).
        return sa.bindparam("troupe_now", callable_=time.time, type_=sa.Double)

    async def dispose(self) -> None:
        await anyio.to_thread.run_sync(self.dispose_now)

    def dispose_now(self) -> None:
        conn, self._loop_conn = self._loop_conn, None
        if conn is not None:
            _close(conn)
        self._checkpoints.close()
        self.engine.dispose()


def _close(conn: Connection) -> None:
    """Close the event loop's connection for good (not back into the pool)."""
    conn.invalidate()
    conn.close()


class _Checkpoints:
    """The WAL copied into the database file by a thread of its own (started on first
    use), every ``CHECKPOINT_EVERY`` commits of the event loop's connection. Passive: it
    waits for no reader or writer, so the loop never waits for it either."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._commits = 0
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or self._closed:
            return
        self._commits = 0
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._serve, name="troupe-sqlite-checkpoints", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def _serve(self) -> None:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as err:  # tried again after the next commits
                    logger.warning("checkpointing %s failed: %s", self.path, err)
        finally:
            conn.close()

    def close(self) -> None:
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join(timeout=BUSY_TIMEOUT)


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
    driver = cast(sqlite3.Connection, conn.connection.dbapi_connection)
    driver.execute(begin).close()
    try:
        result = work(conn)
    except BaseException:
        driver.rollback()
        raise
    driver.commit()
    return result


def _inline(conn: Connection, work: Callable[[Connection], T], begin: str) -> Any:
    """``work`` in a transaction on the event loop's connection, or ``_BUSY`` (nothing done)
    when another connection has the lock it needs: it is then run on a thread, which waits."""
    try:
        return _transaction(conn, work, begin)
    except (sqlite3.OperationalError, sa.exc.OperationalError) as err:
        if not _busy(err):
            raise
        return _BUSY
    finally:
        if conn.in_transaction():  # SQLAlchemy's name for the transaction just ended
            conn.rollback()


def _busy(err: Exception) -> bool:
    """Whether SQLite refused for a lock another connection holds (busy or locked)."""
    found = err.orig if isinstance(err, sa.exc.DBAPIError) else err
    code = getattr(found, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _sqlite_begin(connection: Connection) -> None:
    driver = cast(sqlite3.Connection, connection.connection.dbapi_connection)
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

    async def write(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    async def read(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
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
