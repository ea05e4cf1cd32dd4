"""The server's conversation store: chosen from ``server.database_url`` or ``TROUPE_DATABASE_URL``.

The stores themselves live in ``troupe.store``; the names are kept here for
those who import them from ``troupe.server``.
"""

from __future__ import annotations

__all__ = [
    "MEMORY_DEFAULT",
    "ConversationStore",
    "InMemoryConversationStore",
    "Lease",
    "database_url",
    "store_for",
]

import os
from collections.abc import Mapping

from troupe.config import ServerSpec
from troupe.errors import ConfigError, ConfigIssue
from troupe.store import (
    DEFAULT_DATABASE_URL,
    ConversationStore,
    InMemoryConversationStore,
    Lease,
    open_store,
)

ENV = "TROUPE_DATABASE_URL"
# Teams built in Python keep conversations in memory unless a database is named.
MEMORY_DEFAULT = "memory"


def database_url(
    server: ServerSpec, *, default: str, env: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The database URL to use and where it came from (for error messages)."""
    env = os.environ if env is None else env
    if env.get(ENV, "").strip():
        return env[ENV].strip(), f"${ENV}"
    if server.database_url is not None:
        return server.database_url, "$.server.database_url"
    return default, "$.server.database_url (default)"


def store_for(server: ServerSpec, *, default: str = DEFAULT_DATABASE_URL) -> ConversationStore:
    """The store ``server`` asks for; nothing is opened until the app starts."""
    url, source = database_url(server, default=default)
    try:
        return open_store(
            url,
            lease_seconds=server.lease_seconds,
            ttl_seconds=server.conversation_ttl_seconds,
            run_retention_seconds=server.run_retention_seconds,
        )
    except (ValueError, ModuleNotFoundError) as err:
        raise ConfigError(ConfigIssue(source, str(err))) from None
