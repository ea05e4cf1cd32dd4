"""Conversation stores: where each conversation's ``RunState`` lives between requests.

``InMemoryConversationStore`` serves one process and keeps nothing across
restarts (tests, embedding). ``SQLConversationStore`` keeps conversations in
SQLite (the default for ``troupe serve``: one file under ``.troupe/``) or
PostgreSQL (several replicas, one database). Both implement
``ConversationStore``; ``open_store`` picks one by URL.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE",
    "DEFAULT_DATABASE_URL",
    "ApiKeyRecord",
    "ConversationStore",
    "ConversationSummary",
    "InMemoryConversationStore",
    "KeyNameTakenError",
    "KeyStore",
    "Lease",
    "RunCommit",
    "RunEnd",
    "RunInput",
    "RunRecord",
    "RunStatus",
    "SQLConversationStore",
    "StoreError",
    "StoredConversation",
    "decode_events",
    "encode_events",
    "encoded_size",
    "key_digest",
    "new_key",
    "open_store",
    "parse_database_url",
    "upgrade_database",
]

from pathlib import Path
from typing import TYPE_CHECKING, Any

from troupe.store._base import ConversationSummary, Lease, StoredConversation, encoded_size
from troupe.store._errors import StoreError
from troupe.store._keys import ApiKeyRecord, KeyNameTakenError, KeyStore, key_digest, new_key
from troupe.store._memory import InMemoryConversationStore
from troupe.store._runs import (
    ACTIVE,
    ConversationStore,
    RunCommit,
    RunEnd,
    RunInput,
    RunRecord,
    RunStatus,
    decode_events,
    encode_events,
)
from troupe.store._url import DEFAULT_DATABASE_URL, parse_database_url

if TYPE_CHECKING:
    from troupe.store._sql import SQLConversationStore


def __getattr__(name: str) -> Any:
    # SQLAlchemy is imported only by those who use a database.
    if name == "SQLConversationStore":
        from troupe.store._sql import SQLConversationStore

        return SQLConversationStore
    raise AttributeError(f"module 'troupe.store' has no attribute {name!r}")


def open_store(
    url: str,
    *,
    lease_seconds: float = 30.0,
    ttl_seconds: float | None = None,
    run_retention_seconds: float | None = 7 * 24 * 3600.0,
    base_dir: Path | None = None,
) -> ConversationStore:
    """The store for a database URL: ``memory``, ``sqlite:///path`` or ``postgresql://...``.

    Nothing is opened yet: the store connects and migrates its schema when it
    is first used or ``open()``-ed (the app does that on start). Raises
    ``ValueError`` for a URL it does not understand.
    """
    parsed = parse_database_url(url, base_dir=base_dir)
    if parsed.kind == "memory":
        return InMemoryConversationStore(
            lease_seconds=lease_seconds,
            ttl_seconds=ttl_seconds,
            run_retention_seconds=run_retention_seconds,
        )
    from troupe.store._sql import SQLConversationStore

    return SQLConversationStore(
        parsed,
        lease_seconds=lease_seconds,
        ttl_seconds=ttl_seconds,
        run_retention_seconds=run_retention_seconds,
    )


async def upgrade_database(url: str, *, base_dir: Path | None = None) -> str | None:
    """Migrate the schema of the database at ``url`` to this troupe's revision; returns it."""
    parsed = parse_database_url(url, base_dir=base_dir)
    if parsed.kind == "memory":
        return None
    from troupe.store._sql import SQLConversationStore

    store = SQLConversationStore(parsed)
    try:
        await store.open()
        return store.revision
    finally:
        await store.close()
