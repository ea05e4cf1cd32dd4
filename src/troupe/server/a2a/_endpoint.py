"""What ``/a2a/{team}`` answers: a team's agent card, and its JSON-RPC calls.

Built with the A2A SDK's types; the routes (``_routes``) load this module on
their first request, so a server nobody asks over A2A never imports the SDK.
JSON-RPC errors are answered with status 200 and the code JSON-RPC and A2A
prescribe; a team that does not exist is a 404 like everywhere else.
"""

from __future__ import annotations

__all__ = ["agent_card", "card_response", "rpc_response"]

from typing import Any

from a2a.types import a2a_pb2 as pb
from google.protobuf import json_format
from litestar import MediaType, Request, Response
from litestar.response.base import ASGIResponse

from troupe import __version__, logs
from troupe.errors import ModelNotFoundError, TroupeError
from troupe.server._auth import ApiKeys
from troupe.server._event_stream import RunEventStream
from troupe.server._routes import Settings
from troupe.server._service import ChatService
from troupe.server.a2a._routes import CARD_PATH
from troupe.server.a2a._rpc import INTERNAL_ERROR, Call, Dialect, RpcError, parse_call, rpc_error
from troupe.server.a2a._rpc import rpc_result as result_body
from troupe.server.a2a._service import A2ATasks, as_rpc_error
from troupe.server.a2a._tasks import TaskView
from troupe.store import RunRecord
from troupe.teams import Team


def agent_card(team: Team, url: str, *, secured: bool) -> dict[str, Any]:
    """The team's agent card (A2A 1.0), with the 0.3 fields older clients read."""
    card = pb.AgentCard(
        name=team.name,
        description=team.description or f"The troupe team {team.name!r}.",
        version=__version__,
        supported_interfaces=[
            pb.AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=pb.AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain", "application/json"],
        default_output_modes=["text/plain", "application/json"],
        skills=[
            pb.AgentSkill(
                id=agent.name,
                name=agent.name,
                description=agent.description or f"{agent.name}, of the team {team.name}",
                tags=["troupe", team.kind],
            )
            for agent in team.agents
        ],
    )
    if secured:
        card.security_schemes["bearer"].http_auth_security_scheme.scheme = "bearer"
        card.security_schemes[
            "bearer"
        ].http_auth_security_scheme.description = (
            "A troupe API key, as 'Authorization: Bearer <key>'."
        )
        card.security_requirements.add().schemes["bearer"].SetInParent()
    body: dict[str, Any] = json_format.MessageToDict(card)
    # What 0.3 clients look for; 1.0 clients read supportedInterfaces.
    body.update(url=url, preferredTransport="JSONRPC", protocolVersion="0.3.0")
    if secured:
        body["security"] = [{"bearer": []}]
    return body


def card_response(
    request: Request[Any, Any, Any], service: ChatService, api_keys: ApiKeys, team: str
) -> Response[dict[str, Any]]:
    """The team's A2A agent card."""
    chosen = _team(service, team)
    url = str(request.url).split("?", 1)[0].removesuffix(CARD_PATH)
    return Response(agent_card(chosen, url, secured=api_keys.enabled), media_type=MediaType.JSON)


def _team(service: ChatService, name: str) -> Team:
    """The team, or a 404 that names no other team (the card is public)."""
    chosen = service.manager.teams.get(name)
    if chosen is None:
        raise ModelNotFoundError("There is no A2A agent by that name here.")
    return chosen


def _json(body: bytes) -> ASGIResponse:
    return ASGIResponse(body=body, media_type=MediaType.JSON, status_code=200)


async def rpc_response(
    request: Request[Any, Any, Any],
    service: ChatService,
    api_keys: ApiKeys,
    settings: Settings,
    team: str,
) -> ASGIResponse:
    """The answer to an A2A JSON-RPC request to ``team``."""
    tasks = A2ATasks(service.manager, _team(service, team), api_keys.scope(request))
    call: Call | None = None
    try:
        call = parse_call(await request.body())
        answer = await _answer(call, tasks, settings)
    except RpcError as err:
        request_id, notification = (
            (call.id, call.notification) if call else (err.request_id, err.notification)
        )
        answer = _json(rpc_error(request_id, err.code, err.message))
    else:
        notification = call.notification
    # JSON-RPC answers no notification, not even its errors; over HTTP: 204 No Content.
    return ASGIResponse(status_code=204) if notification else answer


async def _answer(call: Call, tasks: A2ATasks, settings: Settings) -> ASGIResponse:
    dialect = Dialect(call.legacy)
    match call.operation:
        case "send" | "stream":
            request = dialect.send_request(call.params)
            run, task_id = await tasks.send(request)
            logs.bind(conversation_id=run.record.conversation_id, run_id=run.id)
            if call.operation == "stream" and not call.notification:
                return _stream(call, dialect, tasks, run.record, task_id, settings)
            if request.configuration.return_immediately or call.notification:
                # The client may ask any replica about the task next.
                try:
                    await tasks.manager.stored(run)
                except TroupeError as err:
                    raise as_rpc_error(err) from None
            else:
                await run.finished.wait()
            task = await tasks.task(task_id)
            return _json(result_body(call.id, dialect.send_result(task)))
        case "get":
            task_id, history = dialect.task_id(call.params)
            return _json(result_body(call.id, dialect.task(await tasks.task(task_id, history))))
        case "list":
            listed = await tasks.list(dialect.list_request(call.params))
            return _json(result_body(call.id, json_format.MessageToDict(listed)))
        case "cancel":
            task_id, _ = dialect.task_id(call.params)
            return _json(result_body(call.id, dialect.task(await tasks.cancel(task_id))))
        case _:  # subscribe
            task_id, _ = dialect.task_id(call.params)
            head = await tasks.head(task_id)
            return _stream(call, dialect, tasks, head, task_id, settings)


def _stream(
    call: Call,
    dialect: Dialect,
    tasks: A2ATasks,
    record: RunRecord,
    task_id: str,
    settings: Settings,
) -> ASGIResponse:
    def interrupted() -> bytes:
        message = "the server stopped following this task; resubscribe to follow it on"
        return b"data: " + rpc_error(call.id, INTERNAL_ERROR, message) + b"\n\n"

    view = TaskView(record, task_id, dialect.stream_encoder(call.id), interrupted)
    return RunEventStream(
        tasks.manager,
        record,
        view,
        keepalive=settings.keepalive,
        headers={"x-conversation-id": record.conversation_id, "x-run-id": record.id},
    )
