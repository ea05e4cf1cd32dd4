"""The HTTP routes of chat completions and models: thin handlers over the run manager."""

from __future__ import annotations

__all__ = ["Settings", "route_handlers"]

import time
from typing import Any, Literal, cast

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from troupe import logs
from troupe.errors import ModelNotFoundError
from troupe.server._auth import ApiKeys
from troupe.server._context import raw_header
from troupe.server._responses import RunCompletionResponse, RunStreamResponse
from troupe.server._schemas import decode_request
from troupe.server._service import ChatService, check_conversation_id
from troupe.teams import Team

_STARTED = int(time.time())


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """What the routes need of the server's settings."""

    keepalive: float = 15.0
    on_disconnect: Literal["cancel", "continue"] = "cancel"


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
def list_models(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
) -> dict[str, Any]:
    """The teams this API key may use."""
    principal = api_keys.principal(request)
    teams = [team for team in service.teams.values() if principal.allows(team.name)]
    return {"object": "list", "data": [_model(team) for team in teams]}


@get("/models/{model_id:str}", sync_to_thread=False)
def get_model(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    model_id: FromPath[str],
) -> dict[str, Any]:
    if not api_keys.principal(request).allows(model_id):
        raise ModelNotFoundError(f"The model '{model_id}' does not exist", param="model")
    return _model(service.team(model_id))


async def _body(request: Request[Any, Any, Any]) -> bytes:
    """The request's body read from the ASGI messages as they come (``Request.body()`` parses
    every header first, for the content length); 413 past the route's limit, as Litestar's."""
    limit = request.route_handler.resolve_request_max_body_size()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        if chunk := cast(bytes, message.get("body", b"")):
            size += len(chunk)
            if limit is not None and size > limit:
                raise RequestEntityTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@post("/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any]) -> ASGIResponse:
    # The plugin's parts from its router's ``opt``, not by dependency injection: on the
    # busiest route Litestar's (a signature model, three providers) cost ~0.05 ms a request,
    # before the model is even asked.
    plugin = request.route_handler.opt["troupe"]
    service: ChatService = plugin.service
    api_keys: ApiKeys = plugin.api_keys
    settings: Settings = plugin.settings
    body = decode_request(await _body(request))
    raw = raw_header(request.scope, b"x-conversation-id")
    header = raw.decode("latin-1") if raw is not None else None
    if header is not None:  # present, it must be an id (an empty one is a mistake)
        check_conversation_id(header, param="X-Conversation-Id")
    start = await service.run_start(
        body,
        conversation_id=header,
        scope=api_keys.scope(request),
    )
    run = await service.start(start)
    logs.bind(conversation_id=run.record.conversation_id, team=run.record.team, run_id=run.id)
    cancel = not start.background and settings.on_disconnect == "cancel"
    if body.stream:
        return RunStreamResponse(
            service.manager, run.record, keepalive=settings.keepalive, cancel_on_disconnect=cancel
        )
    return RunCompletionResponse(service.manager, run, cancel_on_disconnect=cancel)


@post("/conversations/{conversation_id:str}/stop", status_code=200)
async def stop_conversation(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    conversation_id: FromPath[str],
) -> dict[str, Any]:
    """Stop the conversation's run in progress now (409 when none is running)."""
    check_conversation_id(conversation_id)
    run = await service.manager.stop_conversation(conversation_id, api_keys.scope(request))
    return {
        "id": conversation_id,
        "object": "conversation.stop",
        "stopping": True,
        "run_id": run.id,
        "status": run.status,
    }


route_handlers = [list_models, get_model, chat_completions, stop_conversation]
