"""The HTTP routes: thin handlers over ``ChatService``."""

from __future__ import annotations

__all__ = ["route_handlers"]

import time
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from troupe import logs
from troupe.errors import ConversationNotRunningError
from troupe.server._auth import ApiKeys
from troupe.server._responses import TeamCompletionResponse, TeamStreamResponse
from troupe.server._schemas import decode_request
from troupe.server._service import ChatService, check_conversation_id
from troupe.teams import Team

_STARTED = int(time.time())


def _model(team: Team) -> dict[str, Any]:
    return {
        "id": team.name,
        "object": "model",
        "created": _STARTED,
        "owned_by": "troupe",
        "description": team.description,
        "kind": team.kind,
        "agents": [{"name": a.name, "description": a.description} for a in team.agents],
    }


@get("/models", sync_to_thread=False)
def list_models(service: NamedDependency[ChatService]) -> dict[str, Any]:
    return {"object": "list", "data": [_model(team) for team in service.teams.values()]}


@get("/models/{model_id:str}", sync_to_thread=False)
def get_model(service: NamedDependency[ChatService], model_id: FromPath[str]) -> dict[str, Any]:
    return _model(service.team(model_id))


@post("/chat/completions", status_code=200)
async def chat_completions(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    keepalive: NamedDependency[float],
) -> ASGIResponse:
    body = decode_request(await request.body())
    run = await service.prepare(
        body,
        conversation_id=request.headers.get("x-conversation-id") or None,
        scope=api_keys.scope(request),
    )
    logs.bind(conversation_id=run.conversation_id, team=run.team.name)
    if run.stream:
        return TeamStreamResponse(service, run, keepalive=keepalive)
    return TeamCompletionResponse(service, run)


@post("/conversations/{conversation_id:str}/stop", status_code=200)
async def stop_conversation(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    conversation_id: FromPath[str],
) -> dict[str, Any]:
    """Ask the conversation's run in progress to stop (the ``external`` termination condition)."""
    check_conversation_id(conversation_id)
    running = await service.store.request_stop(conversation_id, scope=api_keys.scope(request))
    if not running:
        raise ConversationNotRunningError(
            f"conversation {conversation_id!r} has no run in progress", param="conversation_id"
        )
    return {"id": conversation_id, "object": "conversation.stop", "stopping": True}


route_handlers = [list_models, get_model, chat_completions, stop_conversation]
