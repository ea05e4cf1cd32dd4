"""``/conversations``: list, read and delete the caller's conversations.

A conversation belongs to the API key that created it: another key's
conversation is 404, exactly like one that does not exist, so ids do not
leak. Reading one returns the team's whole inner transcript (every agent's
messages, tool calls and their results, handoffs) and where the team stands
(the current speaker, a question waiting for the human).
"""

from __future__ import annotations

__all__ = ["conversation_handlers"]

from typing import Any

import msgspec
from litestar import HttpMethod, Request, route
from litestar.di import NamedDependency
from litestar.params import FromPath

from troupe.agents import AssistantAgent
from troupe.errors import RequestError
from troupe.messages import AssistantMessage, Message, ToolMessage
from troupe.server._auth import ApiKeys
from troupe.server._service import ChatService
from troupe.server.conversations_api import create_conversation, update_conversation
from troupe.store import ConversationSummary, StoredConversation
from troupe.teams import RunState, Team

MAX_LIMIT = 100


def _summary(summary: ConversationSummary) -> dict[str, Any]:
    return {
        "id": summary.id,
        "object": "conversation",
        "team": summary.team,
        "title": summary.title,
        "created_at": int(summary.created_at),
        "updated_at": int(summary.updated_at),
        "items": summary.items,
        "waiting_for": summary.waiting_for,
    }


def _handoff(team: Team | None, source: str, tool: str) -> str | None:
    agent = team.by_name.get(source) if team is not None else None
    if isinstance(agent, AssistantAgent) and tool in agent.handoffs:
        return agent.handoffs[tool].target
    return None


def _item(message: Message, team: Team | None) -> dict[str, Any]:
    item: dict[str, Any] = msgspec.to_builtins(message)
    if isinstance(message, AssistantMessage) and message.tool_calls:
        for call, out in zip(message.tool_calls, item["tool_calls"], strict=True):
            target = _handoff(team, message.source, call.name)
            if target is not None:
                out["handoff"] = target
    elif isinstance(message, ToolMessage):
        target = _handoff(team, message.source, message.name)
        if target is not None:
            item["handoff"] = target
    return item


def _state(state: RunState, teams: dict[str, Team]) -> dict[str, Any]:
    """Every field of the state, as data; the transcript with handoffs marked."""
    team = teams.get(state.team)
    body: dict[str, Any] = msgspec.to_builtins(state)
    del body["conversation_id"]
    body["transcript"] = [_item(message, team) for message in state.transcript]
    body["usage"]["total_tokens"] = state.usage.total_tokens
    # The round-robin position, as the name of the agent whose turn is next.
    body["next_speaker"] = (
        team.agents[state.next_speaker % len(team.agents)].name
        if team is not None and team.kind == "round_robin"
        else None
    )
    return body


def _conversation(stored: StoredConversation, teams: dict[str, Team]) -> dict[str, Any]:
    return {**_summary(stored.summary), **_state(stored.state, teams)}


def _limit(request: Request[Any, Any, Any]) -> int:
    raw = request.query_params.get("limit", "20")
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, not {raw[:32]!r}", param="limit"
        )
    return limit


@route("/conversations", http_method=[HttpMethod.GET, HttpMethod.POST], status_code=200)
async def list_conversations(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
) -> dict[str, Any]:
    """The caller's conversations, newest first: ``?limit=20&after=<id of the last one seen>``.
    ``POST``: create one (OpenAI's Conversations API)."""
    if request.method == HttpMethod.POST:
        return await create_conversation(request, service, api_keys.scope(request))
    limit = _limit(request)
    after = request.query_params.get("after") or None
    page = await service.conversations(api_keys.scope(request), limit=limit + 1, after=after)
    data = [_summary(summary) for summary in page[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(page) > limit,
    }


# One handler for both methods: Litestar's automatic OPTIONS answer (its Allow
# header) only knows the methods of the first handler registered on a path.
@route(
    "/conversations/{conversation_id:str}",
    http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE],
    status_code=200,
)
async def conversation(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    conversation_id: FromPath[str],
) -> dict[str, Any]:
    """``GET``: the conversation with its transcript. ``DELETE``: delete it (not while it runs).
    ``POST``: update its metadata (OpenAI's Conversations API)."""
    scope = api_keys.scope(request)
    if request.method == HttpMethod.POST:
        return await update_conversation(request, service, scope, conversation_id)
    if request.method == HttpMethod.DELETE:
        await service.delete(conversation_id, scope)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}
    stored = await service.conversation(conversation_id, scope)
    return _conversation(stored, service.teams)


conversation_handlers = [list_conversations, conversation]
