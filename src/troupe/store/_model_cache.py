"""Model responses kept in the store's database (``troupe_model_cache``).

The table comes with the store's migrations; the cache opens its own
connection pool to the same database when it is first used.
"""

from __future__ import annotations

__all__ = ["DatabaseCache"]

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.store._database import Database, open_database
from troupe.store._schema import model_cache
from troupe.store._url import parse_database_url


class DatabaseCache:
    """A ``ResponseCache`` in the database at ``url`` (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, base_dir: Path | None = None) -> None:
        self.url = parse_database_url(url, base_dir=base_dir)
        if self.url.kind == "memory":
            raise ValueError("a database cache needs a database, not 'memory'")
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = open_database(self.url)
        return self._database

    async def aclose(self) -> None:
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def get(self, key: str) -> bytes | None:
        def read(conn: Connection) -> bytes | None:
            row = conn.execute(
                sa.select(model_cache.c.value).where(model_cache.c.key == key)
            ).first()
            return bytes(row[0]) if row is not None else None

        return await self.database.read(read)

    async def set(self, key: str, value: bytes) -> None:
        def write(conn: Connection) -> None:
            # Two replicas may store the same response at once: the second one is a no-op.
            exists = conn.execute(
                sa.select(model_cache.c.key).where(model_cache.c.key == key)
            ).first()
            if exists is None:
                conn.execute(
                    model_cache.insert().values(key=key, value=value, created_at=time.time())
                )

        await self.database.write(write)
