"""The chat service: from a request to a prepared run, and saving what it produced.

Routes stay thin: they decode, call ``ChatService.prepare``, and hand the run
to a response (``_responses``), which calls ``ChatService.commit`` when the
run has ended well.
"""

from __future__ import annotations

__all__ = ["ChatService", "PreparedRun", "fingerprint"]

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence

import msgspec

from troupe.errors import ModelNotFoundError, RequestError
from troupe.messages import Message
from troupe.server._schemas import ChatCompletionRequest, InMessage, to_messages
from troupe.server._store import ConversationStore, Lease
from troupe.teams import RunResult, RunState, Team

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
HistoryItem = tuple[str, str]


def _item(message: InMessage) -> HistoryItem | None:
    role = "system" if message.role == "developer" else message.role
    if role not in ("system", "user", "assistant"):
        return None
    content = message.content
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        text = " ".join(
            str(part.get("text") or (part.get("image_url") or {}).get("url") or "")
            for part in content
        )
    return role, " ".join(text.split())


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
    def __init__(self, teams: Mapping[str, Team], store: ConversationStore) -> None:
        self.teams = dict(teams)
        self.store = store
        # Runs in progress in this process (reported by /health; 0 when idle).
        self.active_runs = 0

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
        if conversation_id is not None and not _ID.match(conversation_id):
            raise RequestError(
                f"invalid conversation id {conversation_id[:64]!r}: use up to 128 letters, digits, '.', '_', ':', '-'",
                param="conversation_id",
            )
        if conversation_id is None and last_assistant >= 0:
            earlier = tuple(
                item for item in map(_item, messages[: last_assistant + 1]) if item is not None
            )
            conversation_id = await self.store.find(fingerprint(scope, team.name, earlier))
        conversation_id = conversation_id or f"conv_{uuid.uuid4().hex}"
        lease = await self.store.acquire(conversation_id)
        try:
            state = await self.store.load(conversation_id)
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
        except BaseException:
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
        """Save a run that ended well, keyed also by the history the client will resend."""
        history = (*run.history, ("assistant", " ".join(answer.split())))
        await self.store.save(
            result.state, fingerprint=fingerprint(run.scope, run.team.name, history)
        )
