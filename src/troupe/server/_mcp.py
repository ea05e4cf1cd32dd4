"""MCP both ways in the app: the teams' MCP sessions, and every team as a tool at ``/mcp``.

``/mcp`` speaks streamable HTTP (stateless, so any replica answers any request).
Each team is a tool named after it, taking ``{"message", "conversation_id"?}``;
a call starts a run like a chat completion does (same API keys, same tenant
scope) and its result is the team's answer, with the conversation id to go on
with. While the team works, its steps go out as progress notifications when
the client asked for them (a ``progressToken``); the first names the run and its
conversation. A call whose handler is cancelled (the client's
``notifications/cancelled`` reaching it) stops the run.

Without the ``mcp`` package (``troupe-server[mcp]``) there is no ``/mcp`` and
no team may use an MCP server (the config says so).
"""

from __future__ import annotations

__all__ = ["McpEndpoint", "mcp_endpoint", "mcp_running"]

import importlib.util
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from troupe.events import (
    AgentStarted,
    Event,
    HandoffOccurred,
    InputRequested,
    RunStarted,
    ToolCalled,
    ToolResultReturned,
)
from troupe.messages import UserMessage
from troupe.runs import RunManager, RunStart
from troupe.server._auth import ApiKeys
from troupe.server._errors import exception_handlers
from troupe.server._service import check_conversation_id
from troupe.server._service import run_input as run_input_for
from troupe.teams import Team
from troupe.wire import answer_text

logger = logging.getLogger("troupe.server")

_INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What to ask the team."},
        "conversation_id": {
            "type": "string",
            "description": "Continue this conversation (from an earlier answer); "
            "omit to start a new one.",
        },
    },
    "required": ["message"],
    "additionalProperties": False,
}


def _has_mcp() -> bool:
    return importlib.util.find_spec("mcp") is not None


@asynccontextmanager
async def mcp_running(teams: Iterable[Team], endpoint: McpEndpoint | None) -> AsyncIterator[None]:
    """While the app runs: the teams' MCP client sessions (opened now) and ``/mcp``.

    An MCP server that cannot be reached now stops the start, naming the server.
    """
    teams = list(teams)
    async with AsyncExitStack() as stack:
        if any(getattr(a, "toolsets", None) for team in teams for a in team.agents):
            from troupe.mcp import McpUnavailableError, serving

            try:
                await stack.enter_async_context(serving(teams))
            except McpUnavailableError as err:
                logger.error("cannot start: %s", err.message)
                raise
        if endpoint is not None:
            await stack.enter_async_context(endpoint.running())
        yield


def progress_message(event: Event) -> str | None:
    """What a progress notification says of an event (None: not worth one)."""
    match event:
        case RunStarted(run_id=run_id, conversation_id=conversation_id):
            return f"run {run_id} started in conversation {conversation_id}"
        case AgentStarted(agent=agent):
            return f"{agent} is working"
        case ToolCalled(agent=agent, name=name):
            return f"{agent} calls {name}"
        case ToolResultReturned(agent=agent, name=name, is_error=is_error):
            return f"{name} {'failed' if is_error else 'answered'} {agent}"
        case HandoffOccurred(agent=agent, target=target):
            return f"{agent} hands off to {target}"
        case InputRequested(agent=agent):
            return f"{agent} waits for the user's answer"
    return None


class McpEndpoint:
    """The teams of ``runs`` as the tools of one MCP server."""

    def __init__(self, runs: RunManager, api_keys: ApiKeys, *, path: str = "/mcp") -> None:
        self.runs = runs
        self.api_keys = api_keys
        self.path = path
        # The MCP SDK is loaded by the first request to /mcp, not at start (a second of
        # imports an autoscaled replica need not pay before its first answer).
        self.server: Any = None
        self._types: Any = None
        self._manager: Any = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._starting = anyio.Lock()

    async def _serving(self) -> Any:
        """The session manager, started on first use in the app's task group."""
        async with self._starting:
            if self._manager is None:
                if self._tg is None:
                    raise RuntimeError("the /mcp endpoint is not running (the app did not start)")
                from mcp import types
                from mcp.server.lowlevel import Server
                from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

                server = Server("troupe")
                server.list_tools()(self._list_tools)  # type: ignore[no-untyped-call]
                server.call_tool(validate_input=True)(self._call_tool)
                self.server, self._types = server, types
                manager = StreamableHTTPSessionManager(app=server, stateless=True)

                async def run(*, task_status: anyio.abc.TaskStatus[None]) -> None:
                    async with manager.run():
                        task_status.started()
                        await anyio.sleep_forever()

                await self._tg.start(run)
                self._manager = manager
        return self._manager

    def teams(self, request: Any) -> dict[str, Team]:
        """The teams this request's key may call (a key limited to some teams: those)."""
        if getattr(request, "scope", None) is None:
            return self.runs.teams
        principal = self.api_keys.principal(request)
        return {name: team for name, team in self.runs.teams.items() if principal.allows(name)}

    async def _list_tools(self) -> list[Any]:
        request = self.server.request_context.request
        return [
            self._types.Tool(
                name=name,
                description=team.description or f"Ask the {name} team.",
                inputSchema=_INPUT_SCHEMA,
            )
            for name, team in self.teams(request).items()
        ]

    async def _call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        types = self._types
        context = self.server.request_context
        request = context.request
        teams = self.teams(request)
        if name not in teams:
            known = ", ".join(sorted(teams)) or "none"
            return _error(types, f"unknown team {name!r}; teams: {known}")
        conversation_id = arguments.get("conversation_id")
        if conversation_id is not None:
            check_conversation_id(conversation_id)
        team = teams[name]
        message = UserMessage(content=str(arguments["message"]))
        run_input = run_input_for(team, api="mcp")
        start = RunStart(
            team=name,
            scope=self.api_keys.scope(request),
            conversation_id=conversation_id,
            messages=(message,),
            all_messages=(message,),
            input=run_input,
        )
        run = await self.runs.start(start)
        token = context.meta.progressToken if context.meta is not None else None
        events: list[Event] = []
        try:
            async for first, batch in self.runs.follow(run.id, run.record.scope, 0):
                for seq, event in enumerate(batch, first):
                    events.append(event)
                    text = progress_message(event) if token is not None else None
                    if text is not None:
                        await context.session.send_progress_notification(
                            token, float(seq), message=text, related_request_id=context.request_id
                        )
        except anyio.get_cancelled_exc_class():
            if not run.finished.is_set():
                run.control.stop("cancelled: the MCP client cancelled the call")
            raise
        await run.finished.wait()
        if run.error is not None:
            return _error(types, run.error.message)
        agents = run_input.answer_agents
        answer = answer_text(
            events, frozenset(agents) if agents is not None else None, run_input.speaker_lines
        )
        ids = {"conversation_id": run.record.conversation_id, "run_id": run.id}
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=answer)],
            structuredContent={"answer": answer, **ids},
            _meta={"troupe": ids},
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve ``/mcp`` requests until the block ends (the app's lifespan)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    def handler(self) -> Any:
        endpoint = self

        @asgi(
            path=self.path,
            is_mount=True,
            guards=[self.api_keys.guard()],
            exception_handlers=exception_handlers,
            copy_scope=True,
        )
        async def mcp_asgi(scope: Scope, receive: Receive, send: Send) -> None:
            manager = await endpoint._serving()
            await manager.handle_request(scope, receive, send)

        return mcp_asgi


def _error(types: Any, text: str) -> Any:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], isError=True)


def mcp_endpoint(runs: RunManager, api_keys: ApiKeys) -> McpEndpoint | None:
    """The ``/mcp`` endpoint, or None without the ``mcp`` package."""
    return McpEndpoint(runs, api_keys) if _has_mcp() else None
