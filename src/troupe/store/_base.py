"""What every conversation store provides, and the records it hands back.

A store keeps, per conversation (``scope`` + id): the ``RunState``, the
fingerprint of the history the client will resend next, and a lease so that
one request at a time advances it. ``scope`` is who owns the conversation (a
short hash of the API key, ``""`` without keys); the same id in two scopes is
two conversations, so one key can neither read nor claim another's ids.
"""

from __future__ import annotations

__all__ = [
    "ConversationSummary",
    "Conversations",
    "Lease",
    "StoredConversation",
    "encoded_size",
]

from collections.abc import Sequence
from typing import Protocol

import msgspec

from troupe.messages import Message
from troupe.teams import RunState

_encoder = msgspec.json.Encoder()


def encoded_size(messages: Sequence[Message]) -> int:
    """Bytes of ``messages`` as stored (msgspec JSON, one item each): what the size bound counts."""
    return sum(len(_encoder.encode(message)) for message in messages)


class Lease(msgspec.Struct, frozen=True):
    """A request's hold on a conversation; ``token`` tells this hold from a later one."""

    conversation_id: str
    token: str
    scope: str = ""


class ConversationSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation as listed: no transcript."""

    id: str
    team: str
    title: str
    created_at: float
    updated_at: float
    items: int
    waiting_for: str | None = None


class StoredConversation(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation with its whole state."""

    summary: ConversationSummary
    state: RunState


class Conversations(Protocol):
    """Where conversations live between requests (``ConversationStore`` adds their runs).
    Every method is safe to call concurrently."""

    async def open(self) -> None:
        """Get ready (create or migrate the schema). Other methods open the store when needed."""
        ...

    async def maintain(self) -> None:
        """Background upkeep until cancelled: renew leases in use, drop expired conversations."""
        ...

    async def load(self, conversation_id: str, *, scope: str = "") -> RunState | None: ...

    async def get(self, conversation_id: str, *, scope: str = "") -> StoredConversation | None: ...

    async def list_conversations(
        self, *, scope: str = "", limit: int = 20, after: str | None = None
    ) -> list[ConversationSummary]:
        """Newest first; ``after`` is the id of the last conversation of the previous page.

        Raises ``KeyError`` when ``after`` names no conversation of ``scope``.
        """
        ...

    async def save(
        self,
        state: RunState,
        *,
        fingerprint: str | None = None,
        scope: str = "",
        lease: Lease | None = None,
    ) -> None:
        """Save ``state`` in one step; ``fingerprint`` (of the history including this answer)
        finds it later. With ``lease``, the save happens only while that lease still holds the
        conversation (else ``ConversationBusyError``)."""
        ...

    async def find(self, fingerprint: str, *, scope: str = "") -> str | None:
        """The conversation whose latest history has this fingerprint."""
        ...

    async def acquire(self, conversation_id: str, *, scope: str = "") -> Lease:
        """Take the conversation for one run; raises ``ConversationBusyError`` if taken."""
        ...

    async def release(self, lease: Lease) -> None:
        """End the hold on the conversation."""
        ...

    async def delete(self, conversation_id: str, *, scope: str = "") -> bool: ...

    async def close(self) -> None: ...
