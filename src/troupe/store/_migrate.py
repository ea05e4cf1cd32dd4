"""Schema migrations with Alembic, run in one transaction.

Several processes may start at once against one database (replicas behind a
gateway): on PostgreSQL the upgrade first takes a transaction-scoped advisory
lock, on SQLite ``BEGIN IMMEDIATE`` does the same, so one process migrates and
the others then find the schema at head. DDL is transactional on both, so an
upgrade that fails halfway leaves the schema as it was.
"""

from __future__ import annotations

__all__ = [
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "head_revision",
    "revision_of",
    "upgrade",
]

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from troupe.store._database import Database
from troupe.store._errors import StoreError
from troupe.store._schema import VERSION_TABLE

SCRIPTS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: "troupe" in ASCII, so it is recognisable in pg_locks.
_LOCK_KEY = 0x74726F757065


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _lock(connection: Connection) -> None:
    # SQLAlchemy's transaction begun now (on SQLite the driver's is): Alembic, which sees
    # one, then leaves it to us to commit, all migrations at once.
    if not connection.in_transaction():
        connection.begin()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


def _upgrade(connection: Connection, revision: str) -> str | None:
    _lock(connection)
    before = current_revision(connection)
    try:
        command.upgrade(_config(connection), revision)
    except CommandError as err:
        raise StoreError(
            f"cannot migrate the database schema from revision {before!r} to {revision!r}: "
            f"{err} (was it migrated by a newer troupe?)"
        ) from None
    return current_revision(connection)


def _downgrade(connection: Connection, revision: str) -> str | None:
    _lock(connection)
    command.downgrade(_config(connection), revision)
    return current_revision(connection)


async def upgrade(database: Database, revision: str = "head") -> str | None:
    """Bring the schema to ``revision``; returns the revision it is at."""
    return await database.write(functools.partial(_upgrade, revision=revision))


async def downgrade(database: Database, revision: str) -> str | None:
    """Take the schema back to ``revision`` (``base``: no tables). For tests and rollbacks."""
    return await database.write(functools.partial(_downgrade, revision=revision))


async def revision_of(database: Database) -> str | None:
    return await database.read(current_revision)
