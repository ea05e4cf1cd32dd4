"""``troupe check --connect``: connect to every MCP server of a config and list its tools."""

from __future__ import annotations

__all__ = ["check_servers"]

from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio

from troupe.mcp._connection import McpConnection, McpUnavailableError
from troupe.mcp._tools import mcp_tool_name

if TYPE_CHECKING:
    from troupe.config.mcp import McpServerSpec


async def _lines(name: str, spec: McpServerSpec) -> tuple[bool, list[str]]:
    connection = McpConnection(name, spec)
    async with anyio.create_task_group() as tg:
        connection.serve(tg)
        try:
            tools = await connection.list_tools()
        except McpUnavailableError as err:
            return False, [f"  {name} ({spec.transport}): cannot connect: {err.message}"]
        finally:
            connection.close()
    listed = {tool.name for tool in tools}
    lines = [f"  {name} ({spec.transport}): {len(tools)} tool(s)"]
    for tool in tools:
        if spec.tools is not None and tool.name not in spec.tools:
            lines.append(f"    {tool.name}: not allowed (not in `tools`)")
            continue
        approval = " [needs approval]" if tool.name in spec.approval else ""
        summary = (tool.description or "").strip().splitlines()
        about = f": {summary[0]}" if summary else ""
        lines.append(f"    {mcp_tool_name(name, tool.name)}{approval}{about}")
    ok = True
    for missing in [t for t in spec.tools or () if t not in listed]:
        lines.append(f"    {missing}: allowed but the server has no such tool")
        ok = False
    return ok, lines


async def check_servers(servers: Mapping[str, McpServerSpec]) -> tuple[bool, list[str]]:
    """Whether every server answered (and has every allowed tool), and what to print."""
    results: dict[str, tuple[bool, list[str]]] = {}

    async def one(name: str, spec: McpServerSpec) -> None:
        results[name] = await _lines(name, spec)

    async with anyio.create_task_group() as tg:
        for name, spec in servers.items():
            tg.start_soon(one, name, spec)
    lines = [line for name in servers for line in results[name][1]]
    return all(ok for ok, _ in results.values()), lines
