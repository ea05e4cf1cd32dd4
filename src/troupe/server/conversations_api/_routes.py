"""OpenAI's Conversations API over troupe's conversations: the same ids, the same store.

troupe already has ``GET`` / ``DELETE /v1/conversations/{id}`` (the conversation
with the team's inner state), ``/stop`` and ``/runs``; they stay as they are and
their objects are OpenAI's ``conversation`` with extra fields (``id``,
``object: "conversation"``, ``created_at`` and ``metadata`` are OpenAI's;
``team``, ``transcript``, ``pending_input``, … are troupe's). This module adds
what OpenAI has and troupe had not: creating a conversation (``POST
/v1/conversations``, with no team yet: the first response's team takes it),
updating its metadata, and its items. Items are the conversation's messages as
OpenAI's ``message`` items, numbered by their place in the transcript
(``msg_<n>``); the team's tool traffic is not among them (read it in the
transcript).
"""

from __future__ import annotations

__all__ = ["conversations_handlers", "create_conversation", "update_conversation"]

from collections.abc import Callable
from typing import Any

import anyio
import msgspec
from litestar import Request, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.params import FromPath

from troupe.errors import ConversationBusyError, RequestError
from troupe.messages import AssistantMessage, Message, SystemMessage, UserMessage, text_of
from troupe.runs import new_conversation_id
from troupe.server._auth import ApiKeys
from troupe.server._lists import item_page
from troupe.server._schemas import decode_request_body
from troupe.server._service import ChatService, check_conversation_id
from troupe.server.responses_api._request import read_message
from troupe.teams import RunState

Json = dict[str, Any]


class CreateConversation(msgspec.Struct, kw_only=True):
    items: list[Json] | None = None
    metadata: dict[str, str] | None = None


class UpdateConversation(msgspec.Struct, kw_only=True):
    metadata: dict[str, str]


class AddItems(msgspec.Struct, kw_only=True):
    items: list[Json]


class ItemNotFoundError(RequestError):
    status_code = 404
    code = "item_not_found"


def conversation_object(state: RunState, created_at: float) -> Json:
    return {
        "id": state.conversation_id,
        "object": "conversation",
        "created_at": int(created_at),
        "metadata": dict(state.metadata),
        "team": state.team or None,
    }


def _messages(items: list[Json]) -> tuple[Message, ...]:
    """Message items as transcript messages (a conversation is given messages only)."""
    out: list[Message] = []
    for index, item in enumerate(items):
        if item.get("type", "message") != "message":
            raise RequestError(
                "a conversation takes message items only", param=f"items[{index}].type"
            )
        _, text, message = read_message(item, f"items[{index}]")
        out.append(message or AssistantMessage(content=text, source="assistant"))
    return tuple(out)


def _item(index: int, message: Message) -> Json | None:
    item_id = f"msg_{index}"
    if isinstance(message, UserMessage | SystemMessage):
        role = "user" if isinstance(message, UserMessage) else "system"
        parts = [{"type": "input_text", "text": text_of(message)}]
        return {
            "id": item_id,
            "type": "message",
            "role": role,
            "status": "completed",
            "content": parts,
        }
    if isinstance(message, AssistantMessage) and message.content:
        part = {"type": "output_text", "text": message.content, "annotations": [], "logprobs": []}
        return {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [part],
            "troupe": {"agent": message.source},
        }
    return None


def _items(state: RunState, start: int = 0) -> list[Json]:
    return [
        item
        for index, message in enumerate(state.transcript)
        if index >= start and (item := _item(index, message)) is not None
    ]


def _page(items: list[Json]) -> Json:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else "",
        "last_id": items[-1]["id"] if items else "",
        "has_more": False,
    }


async def _edit(
    service: ChatService, conversation_id: str, scope: str, edit: Callable[[RunState], RunState]
) -> RunState:
    """Change a stored conversation under its lease (409 while a run advances it)."""
    stored = await service.conversation(conversation_id, scope)
    busy = ConversationBusyError(f"conversation {conversation_id!r} has a run in progress")
    if service.manager.holds(conversation_id, scope):
        raise busy
    lease = await service.store.acquire(conversation_id, scope=scope)
    try:
        state = await service.store.load(conversation_id, scope=scope) or stored.state
        state = edit(state)
        await service.store.save(state, scope=scope, lease=lease)
    finally:
        with anyio.CancelScope(shield=True):
            await service.store.release(lease)
    return state


async def create_conversation(
    request: Request[Any, Any, Any], service: ChatService, scope: str
) -> Json:
    """``POST /v1/conversations``: a new conversation (no team yet), with its first items
    and metadata."""
    body = decode_request_body(await request.body() or b"{}", CreateConversation)
    state = RunState(
        conversation_id=new_conversation_id(),
        team="",
        transcript=_messages(body.items or []),
        metadata=dict(body.metadata or {}),
    )
    await service.store.save(state, scope=scope)
    stored = await service.conversation(state.conversation_id, scope)
    return conversation_object(state, stored.summary.created_at)


async def update_conversation(
    request: Request[Any, Any, Any], service: ChatService, scope: str, conversation_id: str
) -> Json:
    """``POST /v1/conversations/{id}``: replace its metadata."""
    body = decode_request_body(await request.body(), UpdateConversation)
    state = await _edit(
        service,
        conversation_id,
        scope,
        lambda s: msgspec.structs.replace(s, metadata=dict(body.metadata)),
    )
    stored = await service.conversation(conversation_id, scope)
    return conversation_object(state, stored.summary.created_at)


@route(
    "/conversations/{conversation_id:str}/items",
    http_method=[HttpMethod.GET, HttpMethod.POST],
    status_code=200,
)
async def conversation_items(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    conversation_id: FromPath[str],
) -> Json:
    """``GET``: the conversation's message items (``order``, ``limit``, ``after``).
    ``POST``: add items at its end."""
    scope = api_keys.scope(request)
    check_conversation_id(conversation_id)
    if request.method == HttpMethod.POST:
        body = decode_request_body(await request.body(), AddItems)
        added = _messages(body.items)
        start = 0

        def add(state: RunState) -> RunState:
            nonlocal start
            start = len(state.transcript)
            return msgspec.structs.replace(state, transcript=state.transcript + added)

        state = await _edit(service, conversation_id, scope, add)
        return _page(_items(state, start))
    stored = await service.conversation(conversation_id, scope)
    return item_page(request, _items(stored.state))


def _index(item_id: str, state: RunState) -> int:
    raw = item_id.removeprefix("msg_")
    index = int(raw) if item_id.startswith("msg_") and raw.isdigit() else -1
    if not 0 <= index < len(state.transcript) or _item(index, state.transcript[index]) is None:
        raise ItemNotFoundError(f"item {item_id!r} not found", param="item_id")
    return index


@route(
    "/conversations/{conversation_id:str}/items/{item_id:str}",
    http_method=[HttpMethod.GET, HttpMethod.DELETE],
    status_code=200,
)
async def conversation_item(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    conversation_id: FromPath[str],
    item_id: FromPath[str],
) -> Json:
    """``GET``: one item. ``DELETE``: remove it (later items are numbered one lower);
    returns the conversation."""
    scope = api_keys.scope(request)
    stored = await service.conversation(conversation_id, scope)
    index = _index(item_id, stored.state)
    if request.method == HttpMethod.GET:
        item = _item(index, stored.state.transcript[index])
        assert item is not None
        return item

    def remove(state: RunState) -> RunState:
        at = _index(item_id, state)
        return msgspec.structs.replace(
            state, transcript=state.transcript[:at] + state.transcript[at + 1 :]
        )

    state = await _edit(service, conversation_id, scope, remove)
    return conversation_object(state, stored.summary.created_at)


conversations_handlers = [conversation_items, conversation_item]
