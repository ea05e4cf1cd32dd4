"""``POST /ag-ui/{team}``: run a team for an AG-UI front end, answered as AG-UI events.

The route is here from the start; the AG-UI SDK (``_input``, ``_encode``) is loaded
by its first request, so a replica no front end talks to does not pay for it.
"""

from __future__ import annotations

__all__ = ["agui_handlers"]

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from troupe import logs
from troupe.server._auth import ApiKeys
from troupe.server._event_stream import RunEventStream
from troupe.server._routes import Settings
from troupe.server._service import ChatService


@post("/ag-ui/{team:str}", status_code=200)
async def run_agent(
    request: Request[Any, Any, Any],
    service: NamedDependency[ChatService],
    api_keys: NamedDependency[ApiKeys],
    settings: NamedDependency[Settings],
    team: FromPath[str],
) -> ASGIResponse:
    """Run ``team`` on the thread: an SSE stream of AG-UI events until ``RUN_FINISHED``."""
    from troupe.server.agui._encode import AguiView
    from troupe.server.agui._input import last_seen, parse_input, run_start

    chosen = service.team(team)
    agent_input = parse_input(await request.body())
    scope = api_keys.scope(request)
    seen = await last_seen(service.manager, agent_input.thread_id, scope)
    start = run_start(chosen, agent_input, seen=seen, scope=scope, background=False)
    run = await service.start(start)
    record = run.record
    logs.bind(conversation_id=record.conversation_id, team=record.team, run_id=run.id)
    return RunEventStream(
        service.manager,
        record,
        AguiView(agent_input.thread_id, agent_input.run_id),
        keepalive=settings.keepalive,
        headers={"x-conversation-id": record.conversation_id, "x-run-id": record.id},
        cancel_on_disconnect=settings.on_disconnect == "cancel",
    )


agui_handlers = [run_agent]
