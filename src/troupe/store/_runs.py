"""What a store keeps of runs: their records, their event logs, and the writes a run makes.

A run's log is the sequence of its events, numbered 1, 2, 3, … Stores keep
the events as msgspec-encoded JSON lines in batches; a run owner writes what
it has gathered in one ``commit_runs`` transaction, together with the
conversation's state when a step is complete, and with the run's end (status,
usage, stop reason, the lease released) when the run is over. Several runs'
writes share a transaction when they come together.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE",
    "ConversationStore",
    "RunCommit",
    "RunEnd",
    "RunInput",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "decode_events",
    "encode_events",
]

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

import msgspec

from troupe.events import Event
from troupe.messages import Message, Usage
from troupe.store._base import Conversations, Lease
from troupe.teams import RunOptions, RunState

RunStatus = Literal["queued", "in_progress", "requires_input", "completed", "failed", "cancelled"]
ACTIVE: frozenset[str] = frozenset({"queued", "in_progress"})

_event_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(Event)


def encode_events(events: Sequence[Event]) -> bytes:
    """Events as stored: one JSON object per line."""
    return b"\n".join(map(_event_encoder.encode, events))


def decode_events(data: bytes) -> list[Event]:
    return [_event_decoder.decode(line) for line in data.split(b"\n")] if data else []


class RunInput(msgspec.Struct, frozen=True, kw_only=True):
    """What a run needs to start, or to start again after a crash, and how its views
    render it. ``history`` is the client's history (normalized) for the fingerprint that
    finds the conversation when a plain client sends it back with the answer."""

    messages: tuple[Message, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    # The API that started the run ("chat"; the Responses API and others add theirs).
    api: str = "chat"
    include_usage: bool = False
    answer_agents: tuple[str, ...] | None = None
    speaker_lines: bool = False
    metadata: dict[str, str] = {}
    # The client's tools, tool choice and answer shape (kept for a run taken over).
    options: RunOptions = RunOptions()
    # What the starting API's view needs to render the run (Responses: previous_response_id).
    view: dict[str, str] = {}
    # False: the run and its log are deleted once it is over (Responses' ``store: false``);
    # the turns it added stay in its conversation.
    keep: bool = True


class RunRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A run as stored."""

    id: str
    scope: str = ""
    conversation_id: str
    team: str
    status: RunStatus = "in_progress"
    background: bool = False
    input: RunInput = RunInput()
    usage: Usage = Usage()
    stop_reason: str | None = None
    last_event_id: int = 0
    cancel_requested: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    ended_at: float | None = None


class RunEnd(msgspec.Struct, frozen=True, kw_only=True):
    status: RunStatus
    stop_reason: str
    usage: Usage


class RunCommit(msgspec.Struct, frozen=True, kw_only=True):
    """One run's part of a ``commit_runs`` transaction.

    ``begin``: record the run (and take its conversation's lease) first; used for
    conversations minted by the request, where nobody else can hold the lease.
    ``events``: encoded events ``first_seq`` to ``last_seq`` (none when ``last_seq <
    first_seq``). ``state``: the conversation's state after a completed step (saved with
    ``fingerprint`` when given). ``end``: the run is over; its lease is released.
    """

    run_id: str
    scope: str
    conversation_id: str
    lease: Lease
    owner: str = ""
    begin: RunRecord | None = None
    first_seq: int = 1
    last_seq: int = 0
    events: bytes = b""
    # When each event happened: ms since the run was created, a JSON list (the timeline).
    times: bytes = b""
    state: RunState | None = None
    fingerprint: str | None = None
    end: RunEnd | None = None
    # With ``end``: release the lease (False: the lease is another run's, which ends this
    # one for it).
    release: bool = True


class RunStore(Protocol):
    """The run log's side of a store. Every method is safe to call concurrently."""

    async def take_conversation(
        self, lease: Lease, *, run_id: str, owner: str, load: bool
    ) -> RunState | None:
        """Take the conversation's lease for run ``run_id``; with ``load``, read its state
        in the same transaction. Raises ``ConversationBusyError`` when another run holds
        it. The run's record is written by its first ``commit_runs`` (``begin``)."""
        ...

    async def commit_runs(self, commits: Sequence[RunCommit]) -> list[str | None]:
        """Write the commits in one transaction. Each is fenced by its lease: a run whose
        lease was taken over writes nothing and gets a reason in the returned list (None
        for those written)."""
        ...

    async def get_run(self, run_id: str, *, scope: str | None = "") -> RunRecord | None:
        """The run, if it belongs to ``scope`` (any scope with None)."""
        ...

    async def run_events(self, run_id: str, *, after: int = 0) -> list[bytes]:
        """The encoded events of the run with sequence numbers above ``after``, in order."""
        ...

    async def run_event_times(self, run_id: str) -> list[int]:
        """When each event of the run happened, in order: milliseconds since its creation."""
        ...

    async def list_runs(
        self, *, scope: str = "", conversation_id: str | None = None, limit: int = 20
    ) -> list[RunRecord]:
        """Newest first."""
        ...

    async def active_run(self, conversation_id: str, *, scope: str = "") -> RunRecord | None:
        """The conversation's queued or running run."""
        ...

    async def runs_holding_leases(self, *, scope: str) -> set[str]:
        """The ids of the runs of ``scope`` in progress on any replica (those holding a
        conversation's lease), for limits that hold across replicas."""
        ...

    async def request_cancel(self, run_id: str) -> None:
        """Mark the run for cancelling, for the replica that runs it."""
        ...

    async def delete_run(self, run_id: str, *, scope: str = "") -> bool:
        """Forget a run that is over and its log (its conversation keeps its turns)."""
        ...

    async def cancel_requests(self, run_ids: Sequence[str]) -> set[str]:
        """Those of ``run_ids`` marked for cancelling."""
        ...

    async def orphaned_runs(self, owner_alive: Callable[[str], bool]) -> list[RunRecord]:
        """Queued or running runs that nobody runs: their lease expired, or the process
        holding it is gone (``owner_alive`` says so of an owner)."""
        ...

    async def claim_run(
        self, run: RunRecord, *, lease: Lease, owner: str, owner_alive: Callable[[str], bool]
    ) -> RunState | Literal[False] | None:
        """Take over an orphaned run: its conversation's lease and state (None: no state
        stored). False when it is not an orphan (any more)."""
        ...

    def run_notifications(
        self,
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, str]]] | None:
        """Other replicas' news as (kind, run id): ``events`` written, ``cancel`` asked.
        None when the store has no way to tell (then the run manager polls)."""
        ...


class ConversationStore(Conversations, RunStore, Protocol):
    """A store: conversations, and the runs that advance them."""
