"""Conversation stores: where a conversation's ``RunState`` lives between requests.

A store keeps three things: states by conversation id, fingerprints of
histories (so a client that only resends its history finds its conversation),
and leases (so one conversation is advanced by one request at a time). The
in-memory store here serves one process; durable stores implement the same
protocol.
"""

from __future__ import annotations

__all__ = ["ConversationStore", "InMemoryConversationStore", "Lease"]

import time
import uuid
from collections import OrderedDict
from typing import Protocol

import msgspec

from troupe.errors import ConversationBusyError
from troupe.teams import RunState


class Lease(msgspec.Struct, frozen=True):
    conversation_id: str
    token: str


class ConversationStore(Protocol):
    async def load(self, conversation_id: str) -> RunState | None: ...

    async def save(self, state: RunState, *, fingerprint: str | None = None) -> None:
        """Save ``state``; ``fingerprint`` (of the history including this answer) finds it later."""
        ...

    async def find(self, fingerprint: str) -> str | None: ...

    async def acquire(self, conversation_id: str) -> Lease:
        """Take the conversation for one run; raises ``ConversationBusyError`` if taken."""
        ...

    async def release(self, lease: Lease) -> None:
        """End the run's hold on the conversation; a stop request for it is cleared."""
        ...

    async def request_stop(self, conversation_id: str) -> bool:
        """Ask the run in progress to stop at its next check; False if none is running."""
        ...

    async def stop_requested(self, conversation_id: str) -> bool: ...

    async def delete(self, conversation_id: str) -> bool: ...

    async def close(self) -> None: ...


class InMemoryConversationStore:
    """Keeps up to ``max_conversations`` conversations, least recently used dropped first.

    A lease left behind (a request that never finished) expires after
    ``lease_seconds``.
    """

    def __init__(self, *, max_conversations: int = 10_000, lease_seconds: float = 600.0) -> None:
        self.max_conversations = max_conversations
        self.lease_seconds = lease_seconds
        self._states: OrderedDict[str, RunState] = OrderedDict()
        self._fingerprints: OrderedDict[str, str] = OrderedDict()
        self._leases: dict[str, tuple[str, float]] = {}
        self._stops: set[str] = set()

    def __len__(self) -> int:
        return len(self._states)

    async def load(self, conversation_id: str) -> RunState | None:
        state = self._states.get(conversation_id)
        if state is not None:
            self._states.move_to_end(conversation_id)
        return state

    async def save(self, state: RunState, *, fingerprint: str | None = None) -> None:
        self._states[state.conversation_id] = state
        self._states.move_to_end(state.conversation_id)
        if fingerprint is not None:
            self._fingerprints[fingerprint] = state.conversation_id
            self._fingerprints.move_to_end(fingerprint)
        while len(self._states) > self.max_conversations:
            self._states.popitem(last=False)
        while len(self._fingerprints) > self.max_conversations * 4:
            self._fingerprints.popitem(last=False)

    async def find(self, fingerprint: str) -> str | None:
        conversation_id = self._fingerprints.get(fingerprint)
        if conversation_id is not None and conversation_id in self._states:
            return conversation_id
        return None

    async def acquire(self, conversation_id: str) -> Lease:
        now = time.monotonic()
        held = self._leases.get(conversation_id)
        if held is not None and held[1] > now:
            raise ConversationBusyError(
                f"conversation {conversation_id!r} is busy with another request; retry when it ends"
            )
        lease = Lease(conversation_id, uuid.uuid4().hex)
        self._leases[conversation_id] = (lease.token, now + self.lease_seconds)
        return lease

    async def release(self, lease: Lease) -> None:
        held = self._leases.get(lease.conversation_id)
        if held is not None and held[0] == lease.token:
            del self._leases[lease.conversation_id]
            self._stops.discard(lease.conversation_id)

    async def request_stop(self, conversation_id: str) -> bool:
        held = self._leases.get(conversation_id)
        if held is None or held[1] <= time.monotonic():
            return False
        self._stops.add(conversation_id)
        return True

    async def stop_requested(self, conversation_id: str) -> bool:
        return conversation_id in self._stops

    async def delete(self, conversation_id: str) -> bool:
        return self._states.pop(conversation_id, None) is not None

    async def close(self) -> None:
        self._states.clear()
        self._fingerprints.clear()
        self._leases.clear()
        self._stops.clear()
