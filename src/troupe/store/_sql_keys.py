"""The ``KeyStore`` methods of ``SQLConversationStore``: keys in ``troupe_api_keys``."""

from __future__ import annotations

__all__ = ["SQLKeyStore"]

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from troupe.store._keys import ApiKeyRecord, KeyNameTakenError
from troupe.store._schema import api_keys

T = TypeVar("T")


def _record(row: sa.Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        name=row.name,
        digest=row.digest,
        prefix=row.prefix,
        teams=tuple(msgspec.json.decode(row.teams)) if row.teams is not None else None,
        rpm=row.rpm,
        tpm=row.tpm,
        max_concurrent_runs=row.max_concurrent_runs,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class SQLKeyStore:
    """A mixin sharing ``SQLConversationStore``'s transactions and clock."""

    async def _write(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        raise NotImplementedError

    async def _read(self, work: Callable[[Connection], T], *, quick: bool = False) -> T:
        raise NotImplementedError

    def _clock(self) -> sa.ColumnElement[float]:
        raise NotImplementedError

    async def add_key(self, record: ApiKeyRecord) -> None:
        teams = msgspec.json.encode(list(record.teams)).decode() if record.teams else None
        values = {
            "name": record.name,
            "digest": record.digest,
            "prefix": record.prefix,
            "teams": teams,
            "rpm": record.rpm,
            "tpm": record.tpm,
            "max_concurrent_runs": record.max_concurrent_runs,
            "revoked_at": None,
        }

        def work(conn: Connection) -> None:
            known = conn.execute(
                sa.select(api_keys.c.revoked_at).where(api_keys.c.name == record.name)
            ).first()
            if known is not None and known.revoked_at is None:
                raise KeyNameTakenError(f"a key named {record.name!r} exists; revoke it first")
            if known is not None:
                conn.execute(api_keys.delete().where(api_keys.c.name == record.name))
            conn.execute(api_keys.insert().values({**values, "created_at": self._clock()}))

        await self._write(work)

    async def list_keys(self) -> list[ApiKeyRecord]:
        def work(conn: Connection) -> list[ApiKeyRecord]:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.name))
            return [_record(row) for row in rows]

        return await self._read(work)

    async def revoke_key(self, name: str) -> bool:
        def work(conn: Connection) -> bool:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
            return bool(result.rowcount)

        return await self._write(work)

    async def find_key(self, digest: str) -> ApiKeyRecord | None:
        def work(conn: Connection) -> ApiKeyRecord | None:
            row = conn.execute(
                sa.select(api_keys).where(
                    api_keys.c.digest == digest, api_keys.c.revoked_at.is_(None)
                )
            ).first()
            return _record(row) if row is not None else None

        return await self._read(work)

    async def has_keys(self) -> bool:
        def work(conn: Connection) -> bool:
            query = sa.select(api_keys.c.name).where(api_keys.c.revoked_at.is_(None)).limit(1)
            return conn.execute(query).first() is not None

        return await self._read(work)
