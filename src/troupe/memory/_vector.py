"""``VectorMemory``: texts and their embeddings in the store's database (``troupe_memory``).

A query embeds the text, reads the memory's entries and ranks them by cosine
similarity in Python: the same code on SQLite and PostgreSQL, no extension
needed (sqlite-vec and pgvector would move the ranking into the database for
memories of millions of entries; this one is for the thousands an agent
typically keeps). Vectors are stored as float32.
"""

from __future__ import annotations

__all__ = ["VectorMemory", "cosine"]

import array
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.memory._base import MemoryItem
from troupe.memory._embeddings import Embedder
from troupe.store._database import Database, open_database
from troupe.store._schema import memory_entries as table
from troupe.store._url import parse_database_url


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two vectors (0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _pack(vector: Sequence[float]) -> bytes:
    return array.array("f", vector).tobytes()


def _unpack(data: bytes) -> array.array[float]:
    vector = array.array("f")
    vector.frombytes(data)
    return vector


class VectorMemory:
    """Recalls the ``top_k`` entries nearest to the query (at least ``min_score`` similar)."""

    def __init__(
        self,
        name: str,
        embedder: Embedder,
        database_url: str,
        *,
        top_k: int = 3,
        min_score: float | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self._name = name
        self.embedder = embedder
        self.url = parse_database_url(database_url, base_dir=base_dir)
        if self.url.kind == "memory":
            raise ValueError("a vector memory needs a database, not 'memory'")
        self.top_k = top_k
        self.min_score = min_score
        self._database: Database | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = open_database(self.url)
        return self._database

    async def add(
        self, content: str, metadata: dict[str, Any] | None = None, *, scope: str = ""
    ) -> None:
        await self.add_many([content], metadata, scope=scope)

    async def add_many(
        self, contents: Sequence[str], metadata: dict[str, Any] | None = None, *, scope: str = ""
    ) -> None:
        """Remember several texts (one embeddings request)."""
        vectors = await self.embedder.embed(contents)
        meta = msgspec.json.encode(metadata) if metadata else None
        now = time.time()
        rows = [
            {
                "memory": self._name,
                "scope": scope,
                "content": content,
                "metadata": meta,
                "embedding": _pack(vector),
                "embedding_model": self.embedder.model_name,
                "created_at": now,
            }
            for content, vector in zip(contents, vectors, strict=True)
        ]

        def write(conn: Connection) -> None:
            conn.execute(table.insert(), rows)

        await self.database.write(write)

    async def count(self, *, scope: str = "") -> int:
        def read(conn: Connection) -> int:
            query = sa.select(sa.func.count()).where(
                table.c.memory == self._name, table.c.scope == scope
            )
            return int(conn.execute(query).scalar_one())

        return await self.database.read(read)

    async def query(self, text: str, *, scope: str = "") -> list[MemoryItem]:
        (wanted,) = await self.embedder.embed([text])

        def read(conn: Connection) -> list[Any]:
            # The shared entries (empty scope) and the tenant's own.
            query = sa.select(table.c.content, table.c.metadata, table.c.embedding).where(
                table.c.memory == self._name,
                table.c.scope.in_({"", scope}),
                table.c.embedding_model == self.embedder.model_name,
            )
            return list(conn.execute(query))

        rows = await self.database.read(read)
        scored = sorted(
            (
                (cosine(wanted, _unpack(bytes(row.embedding))), row.content, row.metadata)
                for row in rows
                if row.embedding is not None
            ),
            key=lambda hit: hit[0],
            reverse=True,
        )
        return [
            MemoryItem(
                content=content,
                metadata=msgspec.json.decode(meta) if meta else {},
                score=round(score, 6),
            )
            for score, content, meta in scored[: self.top_k]
            if self.min_score is None or score >= self.min_score
        ]

    async def aclose(self) -> None:
        if self._database is not None:
            await self._database.dispose()
            self._database = None
        close = getattr(self.embedder, "aclose", None)
        if close is not None:
            await close()
