"""The chat service: from a chat-completions request to a run, and the conversations API.

Routes stay thin: they decode, call ``ChatService.run_start`` for what to run
and hand it to the run manager, which owns the run; the response only watches
it. A plain client resends its whole history: the conversation is found again
by the fingerprint of that history, stored when each run ends (computed from
the run's events, the same answer its ``content`` carried).
"""

from __future__ import annotations

__all__ = [
    "ChatService",
    "ConversationNotFoundError",
    "check_conversation_id",
    "fingerprint",
    "run_input",
]

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.lowlevel
import msgspec

from troupe.errors import ConversationBusyError, RequestError
from troupe.events import Event
from troupe.messages import Message
from troupe.models import capability_problem, has_images
from troupe.runs import LiveRun, RunManager, RunStart
from troupe.server._client_tools import chat_run_options
from troupe.server._sandboxes import Sandboxes
from troupe.server._schemas import ChatCompletionRequest, InMessage, history_text, to_messages
from troupe.store import ConversationSummary, Lease, RunInput, RunRecord, StoredConversation
from troupe.teams import RunState, Team
from troupe.wire import answer_text

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
HistoryItem = tuple[str, str]


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


def run_input(team: Team, *, api: str, **fields: Any) -> RunInput:
    """A run's input from a view (``api``): who answers and how ``team`` renders it, with
    the view's own ``fields``."""
    agents = tuple(sorted(team.answer_agents)) if team.answer_agents is not None else None
    defaults: dict[str, Any] = {"answer_agents": agents, "speaker_lines": team.speaker_lines}
    return RunInput(api=api, **{**defaults, **fields})


def run_fingerprint(record: RunRecord, events: Sequence[Event]) -> str:
    """The fingerprint of the history a plain client will send after this run: its history
    and the answer its ``content`` carried."""
    agents = record.input.answer_agents
    answer = answer_text(
        events, frozenset(agents) if agents is not None else None, record.input.speaker_lines
    )
    answer = " ".join(answer.split())
    return fingerprint(record.scope, record.team, (*record.input.history, ("assistant", answer)))


class ChatService:
    def __init__(self, manager: RunManager, sandboxes: Sandboxes | None = None) -> None:
        self.manager = manager
        self.store = manager.store
        self.sandboxes = sandboxes

    @property
    def teams(self) -> dict[str, Team]:
        return self.manager.teams

    def team(self, name: str) -> Team:
        return self.manager.team(name)

    @property
    def active_runs(self) -> int:
        return self.manager.active_runs

    async def start(self, start: RunStart) -> LiveRun:
        """Start a run for an HTTP view, and let the run's task go first, to its model call:
        the view's set-up (its headers, its watcher, its first frames) then happens while the
        model thinks, not before the model is asked. Twice: before Python 3.12, aiohttp
        writes a request from a task of its own, which the run's task starts when it waits
        for the answer, queued behind the view's (once ~0.5 ms of the first token)."""
        run = await self.manager.start(start)
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        return run

    async def run_start(
        self, request: ChatCompletionRequest, *, conversation_id: str | None, scope: str
    ) -> RunStart:
        """What to run for a chat-completions request (the request's errors raised here)."""
        team = self.team(request.model)
        messages = request.messages
        last_assistant = max(
            (i for i, m in enumerate(messages) if m.role == "assistant"), default=-1
        )
        trailing = messages[last_assistant + 1 :]
        if not any(m.role in ("user", "tool") for m in trailing):
            raise RequestError(
                "the last message must be from the user (or the results of tool calls)",
                param="messages",
            )
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
        # Tool results alone answer the team's client tool calls; beside a new user message
        # they are the client's own history (as before client tools), left out.
        answers_tools = not any(m.role == "user" for m in trailing)
        new = tuple(to_messages(trailing, offset=last_assistant + 1, tool_results=answers_tools))
        everything = (
            tuple(to_messages(messages[: last_assistant + 1])) + new if last_assistant >= 0 else new
        )
        _check_images(team, everything)
        options = request.stream_options
        return RunStart(
            team=team.name,
            scope=scope,
            conversation_id=conversation_id,
            messages=new,
            all_messages=everything,
            background=bool(request.background),
            input=run_input(
                team,
                api="chat",
                history=history,
                include_usage=bool(request.stream and options and options.include_usage),
                metadata=dict(request.metadata or {}),
                options=chat_run_options(team, request),
            ),
        )

    # --- conversations over HTTP ------------------------------------------------------

    async def conversation(self, conversation_id: str, scope: str) -> StoredConversation:
        check_conversation_id(conversation_id)
        stored = await self.store.get(conversation_id, scope=scope)
        if stored is None:
            return await self._known_by_runs(conversation_id, scope)
        return stored

    async def _known_by_runs(self, conversation_id: str, scope: str) -> StoredConversation:
        """A conversation whose runs kept nothing (its first run failed or was stopped
        before its first turn) has no state, but it has runs: it is shown empty, as its
        runs are listed and as it is deleted (404 when it has no run either)."""
        runs = self.manager.local_runs(conversation_id, scope) or await self.store.list_runs(
            scope=scope, conversation_id=conversation_id, limit=100
        )
        if not runs:
            raise _not_found(conversation_id)
        first, last = runs[-1], runs[0]
        summary = ConversationSummary(
            id=conversation_id,
            team=last.team,
            title="",
            created_at=first.created_at,
            updated_at=last.ended_at or last.created_at,
            items=0,
        )
        return StoredConversation(
            summary=summary, state=RunState(conversation_id=conversation_id, team=last.team)
        )

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

    async def runs(self, conversation_id: str, scope: str, *, limit: int) -> list[RunRecord]:
        """The conversation's runs, newest first (its first run may be going on still)."""
        check_conversation_id(conversation_id)
        stored = await self.store.list_runs(
            scope=scope, conversation_id=conversation_id, limit=limit
        )
        # Runs of this replica first (fresher), then what the store has of the others.
        local = self.manager.local_runs(conversation_id, scope)
        ids = {run.id for run in local}
        runs = sorted(
            [*local, *(run for run in stored if run.id not in ids)],
            key=lambda run: run.created_at,
            reverse=True,
        )[:limit]
        if not runs:
            await self.conversation(conversation_id, scope)  # 404 if there is none either
        return runs

    async def delete(self, conversation_id: str, scope: str) -> None:
        """Delete a conversation that no run is advancing (else 409 ``conversation_busy``)."""
        check_conversation_id(conversation_id)
        busy = ConversationBusyError(
            f"conversation {conversation_id!r} has a run in progress; stop it "
            f"(POST /v1/conversations/{conversation_id}/stop) or wait for it to end"
        )
        if self.manager.holds(conversation_id, scope):
            raise busy
        try:
            lease: Lease = await self.store.acquire(conversation_id, scope=scope)
        except ConversationBusyError:
            raise busy from None
        try:
            deleted = await self.store.delete(conversation_id, scope=scope)
        finally:
            with anyio.CancelScope(shield=True):
                await self.store.release(lease)
        self.manager.forget_conversation(conversation_id, scope)
        if self.sandboxes is not None:
            await self.sandboxes.end(conversation_id, scope)
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
