"""The chat service: from a request to a prepared run, and saving what it produced.

Routes stay thin: they decode, call ``ChatService.prepare``, and hand the run
to a response (``_responses``), which calls ``ChatService.commit`` when the
run has ended well. ``prepare`` takes the conversation's lease: at once
(``busy_policy="reject"``: a busy conversation is a 409) or after waiting
for the run in progress (``"enqueue"``; requests of one process wait their
turn in order, and poll the store, which may be shared with other replicas).
"""

from __future__ import annotations

__all__ = [
    "ChatService",
    "ConversationNotFoundError",
    "PreparedRun",
    "check_conversation_id",
    "fingerprint",
]

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

import anyio
import msgspec

from troupe.errors import (
    ConversationBusyError,
    ModelNotFoundError,
    RequestError,
    RequestTooLargeError,
)
from troupe.messages import Message
from troupe.models import capability_problem, has_images
from troupe.server._schemas import ChatCompletionRequest, InMessage, history_text, to_messages
from troupe.store import (
    ConversationStore,
    ConversationSummary,
    Lease,
    StoredConversation,
    encoded_size,
)
from troupe.teams import RunResult, RunState, Team

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
HistoryItem = tuple[str, str]
BusyPolicy = Literal["reject", "enqueue"]


class ConversationNotFoundError(RequestError):
    """No such conversation for this API key (another key's conversation is not found either)."""

    status_code = 404
    code = "conversation_not_found"


def check_conversation_id(conversation_id: str, param: str = "conversation_id") -> str:
    """``conversation_id`` if it is a valid id, else a 400 that quotes it."""
    if not _ID.fullmatch(conversation_id):
        raise RequestError(
            f"invalid conversation id {conversation_id[:64]!r}: use up to 128 letters, digits, "
            "'.', '_', ':', '-', starting with a letter or digit",
            param=param,
        )
    return conversation_id


def _item(message: InMessage) -> HistoryItem | None:
    role = "system" if message.role == "developer" else message.role
    if role not in ("system", "user", "assistant"):
        return None
    return role, " ".join(history_text(message).split())


def fingerprint(scope: str, team: str, items: Sequence[HistoryItem]) -> str:
    """A history's key: who asked (scope), which team, and the normalized messages."""
    return hashlib.sha256(msgspec.json.encode([scope, team, items])).hexdigest()


class PreparedRun(msgspec.Struct, kw_only=True):
    team: Team
    state: RunState
    new_messages: tuple[Message, ...]
    lease: Lease
    history: tuple[HistoryItem, ...]
    scope: str
    stream: bool
    include_usage: bool

    @property
    def conversation_id(self) -> str:
        return self.state.conversation_id


class ChatService:
    def __init__(
        self,
        teams: Mapping[str, Team],
        store: ConversationStore,
        *,
        busy_policy: BusyPolicy = "reject",
        busy_wait_seconds: float = 30.0,
        max_transcript_bytes: int | None = None,
    ) -> None:
        self.teams = dict(teams)
        self.store = store
        self.busy_policy = busy_policy
        self.busy_wait_seconds = busy_wait_seconds
        self.max_transcript_bytes = max_transcript_bytes
        # Runs in progress in this process (reported by /health; 0 when idle).
        self.active_runs = 0
        # Requests of this process waiting for a busy conversation, in arrival order.
        self._queues: dict[tuple[str, str], tuple[anyio.Lock, int]] = {}

    def team(self, name: str) -> Team:
        team = self.teams.get(name)
        if team is None:
            known = ", ".join(sorted(self.teams)) or "none"
            raise ModelNotFoundError(
                f"The model '{name}' does not exist (teams: {known})", param="model"
            )
        return team

    async def prepare(
        self, request: ChatCompletionRequest, *, conversation_id: str | None, scope: str
    ) -> PreparedRun:
        team = self.team(request.model)
        messages = request.messages
        last_assistant = max(
            (i for i, m in enumerate(messages) if m.role == "assistant"), default=-1
        )
        trailing = messages[last_assistant + 1 :]
        if not any(m.role == "user" for m in trailing):
            raise RequestError("the last message must be from the user", param="messages")
        history = tuple(item for item in map(_item, messages) if item is not None)
        conversation_id = conversation_id or (request.metadata or {}).get("conversation_id")
        if conversation_id is not None:
            check_conversation_id(conversation_id)
        if conversation_id is None and last_assistant >= 0:
            earlier = tuple(
                item for item in map(_item, messages[: last_assistant + 1]) if item is not None
            )
            conversation_id = await self.store.find(
                fingerprint(scope, team.name, earlier), scope=scope
            )
        minted = conversation_id is None
        conversation_id = conversation_id or f"conv_{uuid.uuid4().hex}"
        lease = await self.acquire(conversation_id, scope)
        try:
            # An id minted just now has nothing stored: skip a store round trip.
            state = None if minted else await self.store.load(conversation_id, scope=scope)
            if state is not None and state.team != team.name:
                raise RequestError(
                    f"conversation {conversation_id!r} belongs to team {state.team!r}, not {team.name!r}",
                    param="conversation_id",
                )
            if state is None:
                state = team.new_state(conversation_id)
                new = to_messages(messages)
            else:
                new = to_messages(trailing, offset=last_assistant + 1)
            self._check_size(state, new)
            _check_images(team, new)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.store.release(lease)
            raise
        options = request.stream_options
        return PreparedRun(
            team=team,
            state=state,
            new_messages=tuple(new),
            lease=lease,
            history=history,
            scope=scope,
            stream=bool(request.stream),
            include_usage=bool(options and options.include_usage),
        )

    async def commit(self, run: PreparedRun, result: RunResult, answer: str) -> None:
        """Save a run that ended well, keyed also by the history the client will resend.

        The save is fenced by the run's lease: if another request took the
        conversation over meanwhile (this process stalled past its lease),
        nothing is saved and ``ConversationBusyError`` is raised.
        """
        history = (*run.history, ("assistant", " ".join(answer.split())))
        await self.store.save(
            result.state,
            fingerprint=fingerprint(run.scope, run.team.name, history),
            scope=run.scope,
            lease=run.lease,
        )

    async def acquire(self, conversation_id: str, scope: str) -> Lease:
        """The conversation's lease, by the busy policy."""
        if self.busy_policy == "reject":
            return await self.store.acquire(conversation_id, scope=scope)
        key = (scope, conversation_id)
        lock, waiting = self._queues.get(key) or (anyio.Lock(), 0)
        self._queues[key] = (lock, waiting + 1)
        try:
            with anyio.move_on_after(self.busy_wait_seconds):
                async with lock:
                    return await self._poll(conversation_id, scope)
        finally:
            lock, waiting = self._queues[key]
            if waiting == 1:
                del self._queues[key]
            else:
                self._queues[key] = (lock, waiting - 1)
        raise ConversationBusyError(
            f"conversation {conversation_id!r} is still busy with another request after "
            f"waiting {self.busy_wait_seconds:g} s (server.busy_wait_seconds); retry later"
        )

    async def _poll(self, conversation_id: str, scope: str) -> Lease:
        delay = 0.02
        while True:
            try:
                # Shielded: a lease taken just as the wait times out must not be left behind.
                with anyio.CancelScope(shield=True):
                    return await self.store.acquire(conversation_id, scope=scope)
            except ConversationBusyError:
                await anyio.sleep(delay)
                delay = min(delay * 1.5, 0.5)

    def _check_size(self, state: RunState, new: Sequence[Message]) -> None:
        limit = self.max_transcript_bytes
        if limit is None:
            return
        size = encoded_size(state.transcript) + encoded_size(new)
        if size > limit:
            raise RequestTooLargeError(
                f"conversation {state.conversation_id!r} would hold {size} bytes of transcript, "
                f"over the limit of {limit} bytes (server.max_transcript_bytes); "
                "start a new conversation",
                param="messages",
                code="conversation_too_large",
            )

    # --- conversations over HTTP ------------------------------------------------------

    async def conversation(self, conversation_id: str, scope: str) -> StoredConversation:
        check_conversation_id(conversation_id)
        stored = await self.store.get(conversation_id, scope=scope)
        if stored is None:
            raise _not_found(conversation_id)
        return stored

    async def conversations(
        self, scope: str, *, limit: int, after: str | None
    ) -> list[ConversationSummary]:
        """Up to ``limit`` of the caller's conversations, newest first, after ``after``."""
        if after is not None:
            check_conversation_id(after, param="after")
        try:
            return await self.store.list_conversations(scope=scope, limit=limit, after=after)
        except KeyError:
            raise RequestError(
                f"'after' names no conversation: {after!r} (it may have been deleted)",
                param="after",
            ) from None

    async def delete(self, conversation_id: str, scope: str) -> None:
        """Delete a conversation that no request is advancing (else 409 ``conversation_busy``)."""
        check_conversation_id(conversation_id)
        try:
            lease = await self.store.acquire(conversation_id, scope=scope)
        except ConversationBusyError:
            raise ConversationBusyError(
                f"conversation {conversation_id!r} has a run in progress; stop it "
                f"(POST /v1/conversations/{conversation_id}/stop) or wait for it to end"
            ) from None
        try:
            deleted = await self.store.delete(conversation_id, scope=scope)
        finally:
            with anyio.CancelScope(shield=True):
                await self.store.release(lease)
        if not deleted:
            raise _not_found(conversation_id)


def _not_found(conversation_id: str) -> ConversationNotFoundError:
    return ConversationNotFoundError(
        f"conversation {conversation_id!r} not found", param="conversation_id"
    )


def _check_images(team: Team, messages: Sequence[Message]) -> None:
    """Images go to the team's first agent: a clear 400 when its model cannot see them."""
    if not has_images(messages):
        return
    model = getattr(team.agents[0], "model", None)
    problem = capability_problem(model, images=True) if model is not None else None
    if problem:
        raise RequestError(f"team '{team.name}' cannot take images: {problem}", param="messages")
