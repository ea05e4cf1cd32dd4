"""The MCP servers of a set of teams, opened for as long as the app runs."""

from __future__ import annotations

__all__ = ["connections_of", "serving"]

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import anyio

from troupe.mcp._connection import McpConnection, McpUnavailableError
from troupe.mcp._tools import McpToolset
from troupe.teams import Team

logger = logging.getLogger("troupe.mcp")


def _agents(team: Team, seen: set[int]) -> Iterable[object]:
    for agent in team.agents:
        yield agent
        inner = getattr(agent, "team", None)
        if isinstance(inner, Team) and id(inner) not in seen:
            seen.add(id(inner))
            yield from _agents(inner, seen)


def connections_of(teams: Iterable[Team]) -> list[McpConnection]:
    """The MCP connections the teams' agents use, each once."""
    found: dict[int, McpConnection] = {}
    seen: set[int] = set()
    for team in teams:
        for agent in _agents(team, seen):
            for toolset in getattr(agent, "toolsets", ()):
                if isinstance(toolset, McpToolset):
                    found.setdefault(id(toolset.connection), toolset.connection)
    return list(found.values())


@asynccontextmanager
async def serving(
    teams: Iterable[Team], *, connect: bool = True
) -> AsyncIterator[list[McpConnection]]:
    """Run the teams' MCP sessions until the block ends; with ``connect``, open them now.

    A server that cannot be reached then is an ``McpUnavailableError`` naming it
    (every such server, in one message).
    """
    connections = connections_of(teams)
    failure: McpUnavailableError | None = None
    async with anyio.create_task_group() as tg:
        for connection in connections:
            connection.serve(tg)
        try:
            if connect and connections:
                await _open_all(connections)
        except McpUnavailableError as err:
            failure = err  # raised out of the task group, not wrapped in an ExceptionGroup
        else:
            yield connections
        finally:
            for connection in connections:
                connection.close()
    if failure is not None:
        raise failure


async def _open_all(connections: list[McpConnection]) -> None:
    failures: list[str] = []

    async def open_one(connection: McpConnection) -> None:
        try:
            await connection.session()
        except McpUnavailableError as err:
            failures.append(err.message)

    async with anyio.create_task_group() as tg:
        for connection in connections:
            tg.start_soon(open_one, connection)
    if failures:
        raise McpUnavailableError("; ".join(failures))
    for connection in connections:
        logger.info("MCP server %r: connected", connection.name)
