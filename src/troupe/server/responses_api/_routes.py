"""``/responses``: OpenAI's Responses API over troupe's runs.

A response is a view of a run, one to one (``resp_<hex>`` views ``run_<hex>``):
creating one starts a run, retrieving one encodes the run's log, cancelling one
cancels the run. A response belongs to the API key that created it.
"""

from __future__ import annotations

__all__ = ["response_handlers"]

from typing import Any

import msgspec
from litestar import HttpMethod, Request, get, post, route
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from troupe import logs
from troupe.errors import RequestError
from troupe.messages import Message, SystemMessage, ToolMessage, UserMessage, text_of
from troupe.runs import RunNotFoundError, RunStart
from troupe.server._auth import ApiKeys
from troupe.server._lists import item_page
from troupe.server._routes import Settings
from troupe.server._service import ChatService, check_conversation_id, fingerprint, run_input
from troupe.server.responses_api._encode import response_id, run_id_of
from troupe.server.responses_api._request import (
    CreateResponse,
    decode_create,
    read_input,
    read_options,
)
from troupe.server.responses_api._views import ResponseStream, ResponseWhenDone, encode_run
from troupe.store import ACTIVE, RunRecord


class ResponseNotFoundError(RunNotFoundError):
    code = "response_not_found"


async def _record(service: ChatService, response: str, scope: str) -> RunRecord:
    run_id = run_id_of(response)
    try:
        if run_id is None:
            raise RunNotFoundError(response)
        return await service.manager.get(run_id, scope)
    except RunNotFoundError:
        raise ResponseNotFoundError(
            f"response {response!r} not found", param="response_id"
        ) from None


async def _run_start(service: ChatService, body: CreateResponse, scope: str) -> RunStart:
    team = service.team(body.model)
    items = read_input(body)
    options = read_options(team, body)
    view: dict[str, str] = {}
    conversation_id: str | None = None
    if body.previous_response_id is not None:
        try:
            previous = await _record(service, body.previous_response_id, scope)
        except ResponseNotFoundError:
            raise RequestError(
                f"previous response {body.previous_response_id!r} not found",
                param="previous_response_id",
                code="previous_response_not_found",
            ) from None
        conversation_id = previous.conversation_id
        view["previous_response_id"] = body.previous_response_id
    elif body.conversation is not None:
        raw = (
            body.conversation if isinstance(body.conversation, str) else body.conversation.get("id")
        )
        if not isinstance(raw, str):
            raise RequestError("conversation must be an id or {id}", param="conversation")
        conversation_id = check_conversation_id(raw, param="conversation")
        view["conversation"] = "1"
    elif items.has_output:
        conversation_id = await service.store.find(
            fingerprint(scope, team.name, items.earlier), scope=scope
        )
    return RunStart(
        team=team.name,
        scope=scope,
        conversation_id=conversation_id,
        messages=items.new,
        all_messages=items.everything,
        background=bool(body.background),
        input=run_input(
            team,
            api="responses",
            # Each agent's message is an item of its own: no speaker lines in the text.
            speaker_lines=False,
            history=items.history,
            metadata=dict(body.metadata or {}),
            options=options,
            view=view,
            # store: false: the response is not kept once over (GET is 404 then, and it
            # cannot be a previous_response_id); its turns stay in the conversation.
            keep=body.store is not False,
        ),
    )


@post("/responses", status_code=200)
async def create_response(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    settings: NamedDependency[Settings],
) -> ASGIResponse:
    body = decode_create(await request.body())
    start = await _run_start(service, body, api_keys.scope(request))
    run = await service.start(start)
    logs.bind(conversation_id=run.record.conversation_id, team=run.record.team, run_id=run.id)
    cancel = not start.background and settings.on_disconnect == "cancel"
    if body.stream:
        return ResponseStream(
            service.manager,
            run.record,
            keepalive=settings.keepalive,
            cancel_on_disconnect=cancel,
            run=run,
        )
    if body.background:
        await service.manager.stored(run)  # the client may ask any replica about it next
        return _json(encode_run(run.snapshot(), list(run.events)).response())
    return ResponseWhenDone(service.manager, run, cancel_on_disconnect=cancel)


def _starting_after(request: Request[Any, Any, Any]) -> int:
    raw = request.query_params.get("starting_after")
    if raw is None:
        return -1
    if not raw.strip().isdigit():
        raise RequestError(
            f"starting_after must be a sequence number (0 or more), not {raw[:32]!r}",
            param="starting_after",
        )
    return int(raw)


# One handler for both methods: Litestar's automatic OPTIONS answer (its Allow header)
# only knows the methods of the first handler registered on a path.
@route(
    "/responses/{response:str}", http_method=[HttpMethod.GET, HttpMethod.DELETE], status_code=200
)
async def response_route(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    settings: NamedDependency[Settings],
    response: FromPath[str],
) -> ASGIResponse:
    """``GET``: the response now; with ``?stream=true`` its stream events after
    ``starting_after``. ``DELETE``: see ``_delete``."""
    scope = api_keys.scope(request)
    record = await _record(service, response, scope)
    if request.method == HttpMethod.DELETE:
        return _json(await _delete(service, record))
    if request.query_params.get("stream") in ("true", "1"):
        after = _starting_after(request)
        return ResponseStream(
            service.manager, record, starting_after=after, keepalive=settings.keepalive
        )
    record, events = await service.manager.events(record.id, scope)
    return _json(encode_run(record, events).response())


async def _delete(service: ChatService, record: RunRecord) -> dict[str, Any]:
    """A response is a view of its run: deleting it stops the run if it is still going,
    then forgets the run and its log (``GET`` answers 404). The turns it added stay in
    its conversation (delete the conversation to forget them too)."""
    if record.status in ACTIVE:
        record = await service.manager.cancel(record.id, record.scope)
    service.manager.forget_run(record.id)
    await service.store.delete_run(record.id, scope=record.scope)
    return {"id": response_id(record.id), "object": "response.deleted", "deleted": True}


@post("/responses/{response:str}/cancel", status_code=200)
async def cancel_response(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    response: FromPath[str],
) -> ASGIResponse:
    """Stop the response's run now; its completed turns are kept."""
    scope = api_keys.scope(request)
    record = await _record(service, response, scope)
    await service.manager.cancel(record.id, scope)
    record, events = await service.manager.events(record.id, scope)
    return _json(encode_run(record, events).response())


def _item(message: Message, item_id: str) -> dict[str, Any] | None:
    if isinstance(message, ToolMessage):
        return {
            "id": item_id,
            "type": "function_call_output",
            "call_id": message.call_id,
            "output": message.content,
            "status": "completed",
        }
    if isinstance(message, UserMessage | SystemMessage):
        role = "user" if isinstance(message, UserMessage) else "system"
        return {
            "id": item_id,
            "type": "message",
            "role": role,
            "status": "completed",
            "content": [{"type": "input_text", "text": text_of(message)}],
        }
    return None


@get("/responses/{response:str}/input_items")
async def input_items(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    response: FromPath[str],
) -> dict[str, Any]:
    """The items the response's run was given (``?order=asc|desc``, ``?limit=``)."""
    record = await _record(service, response, api_keys.scope(request))
    hex_id = record.id.removeprefix("run_")
    items = [
        item
        for index, message in enumerate(record.input.messages)
        if (item := _item(message, f"msg_{hex_id}_in{index}")) is not None
    ]
    return item_page(request, items)


def _json(body: dict[str, Any]) -> ASGIResponse:
    return ASGIResponse(body=msgspec.json.encode(body), media_type="application/json")


response_handlers = [create_response, response_route, cancel_response, input_items]
