"""The in-memory store: one process, nothing kept across restarts. For tests and embedding."""

from __future__ import annotations

__all__ = ["InMemoryConversationStore"]

import time
import uuid
from collections import OrderedDict

import anyio

from troupe.errors import ConversationBusyError
from troupe.store._base import ConversationSummary, Lease, StoredConversation
from troupe.store._titles import title_of
from troupe.teams import RunState

_Key = tuple[str, str]  # (scope, conversation id)


class _Entry:
    __slots__ = ("created_at", "fingerprint", "state", "title", "updated_at")

    def __init__(self, state: RunState, fingerprint: str | None, created_at: float) -> None:
        self.state = state
        self.fingerprint = fingerprint
        self.created_at = created_at
        self.updated_at = created_at
        self.title = title_of(state.transcript)


class InMemoryConversationStore:
    """Keeps up to ``max_conversations`` conversations, least recently used dropped first.

    A lease left behind (a request that never finished) expires after
    ``lease_seconds``; conversations unused for ``ttl_seconds`` are gone.
    """

    def __init__(
        self,
        *,
        max_conversations: int = 10_000,
        lease_seconds: float = 600.0,
        ttl_seconds: float | None = None,
    ) -> None:
        self.max_conversations = max_conversations
        self.lease_seconds = lease_seconds
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._fingerprints: dict[str, _Key] = {}
        self._leases: dict[_Key, tuple[str, float]] = {}
        self._stops: set[_Key] = set()

    def __len__(self) -> int:
        return len(self._entries)

    async def open(self) -> None:
        return None

    async def maintain(self) -> None:
        await anyio.sleep_forever()

    def _live(self, key: _Key) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.ttl_seconds is not None and entry.updated_at < time.time() - self.ttl_seconds:
            self._drop(key)
            return None
        return entry

    def _drop(self, key: _Key) -> None:
        entry = self._entries.pop(key, None)
        if (
            entry is not None
            and entry.fingerprint is not None
            and self._fingerprints.get(entry.fingerprint) == key
        ):
            del self._fingerprints[entry.fingerprint]

    async def load(self, conversation_id: str, *, scope: str = "") -> RunState | None:
        key = (scope, conversation_id)
        entry = self._live(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry.state

    async def get(self, conversation_id: str, *, scope: str = "") -> StoredConversation | None:
        entry = self._live((scope, conversation_id))
        if entry is None:
            return None
        return StoredConversation(summary=_summary(conversation_id, entry), state=entry.state)

    async def list_conversations(
        self, *, scope: str = "", limit: int = 20, after: str | None = None
    ) -> list[ConversationSummary]:
        mine = [
            (key[1], entry)
            for key in list(self._entries)
            if key[0] == scope and (entry := self._live(key)) is not None
        ]
        mine.sort(key=lambda item: (item[1].created_at, item[0]), reverse=True)
        start = 0
        if after is not None:
            ids = [conversation_id for conversation_id, _ in mine]
            if after not in ids:
                raise KeyError(after)
            start = ids.index(after) + 1
        return [_summary(cid, entry) for cid, entry in mine[start : start + limit]]

    async def save(
        self,
        state: RunState,
        *,
        fingerprint: str | None = None,
        scope: str = "",
        lease: Lease | None = None,
    ) -> None:
        key = (scope, state.conversation_id)
        if lease is not None:
            held = self._leases.get(key)
            if held is None or held[0] != lease.token:
                raise ConversationBusyError(
                    f"conversation {state.conversation_id!r} was taken over by another request "
                    "while this run was in progress; its result is not saved"
                )
        now = time.time()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(state, None, now)
        else:
            entry.state = state
            entry.updated_at = now
            if not entry.title:
                entry.title = title_of(state.transcript)
        self._entries.move_to_end(key)
        if entry.fingerprint is not None and self._fingerprints.get(entry.fingerprint) == key:
            del self._fingerprints[entry.fingerprint]
        entry.fingerprint = fingerprint
        if fingerprint is not None:
            self._fingerprints[fingerprint] = key
        while len(self._entries) > self.max_conversations:
            self._drop(next(iter(self._entries)))

    async def find(self, fingerprint: str, *, scope: str = "") -> str | None:
        key = self._fingerprints.get(fingerprint)
        if key is None or key[0] != scope:
            return None
        entry = self._live(key)
        # Only a conversation's latest history continues it: an earlier point is a new branch.
        return key[1] if entry is not None and entry.fingerprint == fingerprint else None

    async def acquire(self, conversation_id: str, *, scope: str = "") -> Lease:
        key = (scope, conversation_id)
        now = time.monotonic()
        held = self._leases.get(key)
        if held is not None and held[1] > now:
            raise ConversationBusyError(
                f"conversation {conversation_id!r} is busy with another request; retry when it ends"
            )
        lease = Lease(conversation_id, uuid.uuid4().hex, scope)
        self._leases[key] = (lease.token, now + self.lease_seconds)
        self._stops.discard(key)
        return lease

    async def release(self, lease: Lease) -> None:
        key = (lease.scope, lease.conversation_id)
        held = self._leases.get(key)
        if held is not None and held[0] == lease.token:
            del self._leases[key]
            self._stops.discard(key)

    async def request_stop(self, conversation_id: str, *, scope: str = "") -> bool:
        key = (scope, conversation_id)
        held = self._leases.get(key)
        if held is None or held[1] <= time.monotonic():
            return False
        self._stops.add(key)
        return True

    async def stop_requested(self, conversation_id: str, *, scope: str | None = None) -> bool:
        if scope is not None:
            return (scope, conversation_id) in self._stops
        return any(key[1] == conversation_id for key in self._stops)

    async def delete(self, conversation_id: str, *, scope: str = "") -> bool:
        key = (scope, conversation_id)
        found = self._live(key) is not None
        self._drop(key)
        return found

    async def close(self) -> None:
        self._entries.clear()
        self._fingerprints.clear()
        self._leases.clear()
        self._stops.clear()


def _summary(conversation_id: str, entry: _Entry) -> ConversationSummary:
    pending = entry.state.pending_input
    return ConversationSummary(
        id=conversation_id,
        team=entry.state.team,
        title=entry.title,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        items=len(entry.state.transcript),
        waiting_for=pending.agent if pending is not None else None,
    )
