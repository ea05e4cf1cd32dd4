"""MCP tools as troupe tools: names, schemas and descriptions from the server.

The model sees a server's tool as ``<server>__<tool>`` (so the tool-call events
in the stream name the server, and two servers' tools never clash). A result's
text parts are the tool's output; structured content, without text, is JSON
text; an image is described, and shown to a model that can see images (after
the tool results); ``isError`` is an error result the model reads.
"""

from __future__ import annotations

__all__ = ["McpTool", "McpToolset", "mcp_tool_name", "result_text"]

import base64
import binascii
import re
from typing import Any

import msgspec
from mcp import types

from troupe.mcp._approval import PendingCall, current_approvals
from troupe.mcp._connection import McpCallError, McpConnection
from troupe.models._base import ToolSpec
from troupe.tools import ToolOutput

_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")


def mcp_tool_name(server: str, tool: str) -> str:
    """What a model calls ``tool`` of ``server``: ``<server>__<tool>``, at most 64 characters."""
    return _NOT_NAME.sub("_", f"{server}__{tool}")[:64]


def _size(data: str) -> str:
    try:
        n = len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        n = len(data) * 3 // 4
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def _part(block: types.ContentBlock) -> str:
    match block:
        case types.TextContent(text=text):
            return text
        case types.ImageContent(mimeType=mime, data=data):
            return f"[image: {mime}, {_size(data)}]"
        case types.AudioContent(mimeType=mime, data=data):
            return f"[audio: {mime}, {_size(data)}]"
        case types.ResourceLink(uri=uri, name=name):
            return f"[resource: {name} <{uri}>]"
        case types.EmbeddedResource(resource=types.TextResourceContents(text=text)):
            return text
        case types.EmbeddedResource(resource=resource):
            return f"[resource: {resource.mimeType or 'binary'} <{resource.uri}>]"


def result_text(result: types.CallToolResult) -> str:
    """A tool result as the text a model reads."""
    parts = [_part(block) for block in result.content]
    has_text = any(isinstance(b, types.TextContent) for b in result.content)
    if result.structuredContent is not None and not has_text:
        parts.insert(0, msgspec.json.encode(result.structuredContent).decode())
    return "\n".join(part for part in parts if part)


class McpTool:
    """One tool of an MCP server, called through the server's shared session."""

    def __init__(self, connection: McpConnection, tool: types.Tool, *, approval: bool) -> None:
        self.connection = connection
        self.tool_name = tool.name
        self.name = mcp_tool_name(connection.name, tool.name)
        self.description = tool.description or tool.title or tool.name
        self.approval = approval
        schema = dict(tool.inputSchema or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        self.spec = ToolSpec(name=self.name, description=self.description, parameters=schema)

    def __repr__(self) -> str:
        return f"McpTool({self.connection.name!r}, {self.tool_name!r})"

    async def call(self, arguments: str) -> ToolOutput:
        try:
            args = msgspec.json.decode(arguments or "{}")
        except msgspec.DecodeError as err:
            return ToolOutput(content=f"Error: arguments are not JSON: {err}", is_error=True)
        if not isinstance(args, dict):
            return ToolOutput(content="Error: arguments must be a JSON object", is_error=True)
        if self.approval:
            approvals = current_approvals()
            if approvals is None:
                return ToolOutput(
                    content=f"Error: {self.name} needs a human's approval and none can be asked",
                    is_error=True,
                )
            approvals.append(PendingCall(tool=self.name, arguments=arguments))
            return ToolOutput(content="Waiting for the user's approval to call this tool.")
        return await self.run(args)

    async def run(self, args: dict[str, Any]) -> ToolOutput:
        """Call the tool now (approved, or needing no approval)."""
        try:
            result = await self.connection.call(self.tool_name, args)
        except McpCallError as err:
            return ToolOutput(content=f"Error: {err}", is_error=True)
        text = result_text(result)
        if result.isError:
            return ToolOutput(content=text or "Error: the tool failed", is_error=True)
        images = tuple(
            f"data:{block.mimeType};base64,{block.data}"
            for block in result.content
            if isinstance(block, types.ImageContent)
        )
        return ToolOutput(content=text, images=images)


class McpToolset:
    """The tools an agent has of one MCP server: all it allows, or ``only`` one.

    Listed at the start of each agent turn, so ``tools/list_changed`` shows in the next.
    """

    def __init__(self, connection: McpConnection, *, only: str | None = None) -> None:
        self.connection = connection
        self.only = only

    def __repr__(self) -> str:
        suffix = f"/{self.only}" if self.only else ""
        return f"McpToolset(mcp:{self.connection.name}{suffix})"

    async def list_tools(self) -> list[McpTool]:
        spec = self.connection.spec
        allowed = set(spec.tools) if spec.tools is not None else None
        return [
            McpTool(self.connection, tool, approval=tool.name in spec.approval)
            for tool in await self.connection.list_tools()
            if (allowed is None or tool.name in allowed)
            and (self.only is None or tool.name == self.only)
        ]
