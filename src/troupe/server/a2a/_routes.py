"""``/a2a/{team}``: each team as an A2A agent: its card, and its JSON-RPC endpoint.

The card is public (it says how to authenticate); the endpoint is behind the
API keys, and a key sees only its own tasks. The routes are here from the start;
what answers them (``_endpoint``, with the A2A SDK and protobuf) is loaded by the
first request, so a replica that is never asked over A2A does not pay for it.
"""

from __future__ import annotations

__all__ = ["CARD_PATH", "a2a_handlers", "a2a_public_handlers"]

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from troupe.server._auth import ApiKeys
from troupe.server._routes import Settings
from troupe.server._service import ChatService

CARD_PATH = "/.well-known/agent-card.json"


@get(f"/a2a/{{team:str}}{CARD_PATH}", sync_to_thread=False)
def get_agent_card(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    team: FromPath[str],
) -> Response[dict[str, Any]]:
    """The team's A2A agent card."""
    from troupe.server.a2a._endpoint import card_response

    return card_response(request, service, api_keys, team)


@post("/a2a/{team:str}", status_code=200)
async def a2a_rpc(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    settings: NamedDependency[Settings],
    team: FromPath[str],
) -> ASGIResponse:
    """A2A JSON-RPC: ``SendMessage``, ``SendStreamingMessage``, ``GetTask``, ``ListTasks``,
    ``CancelTask``, ``SubscribeToTask`` (and their 0.3 names)."""
    from troupe.server.a2a._endpoint import rpc_response

    return await rpc_response(request, service, api_keys, settings, team)


a2a_handlers = [a2a_rpc]
a2a_public_handlers = [get_agent_card]
