"""MCP: agents use the tools of MCP servers (``mcp_servers:`` in config).

``McpConnection`` is one server's session for the process; ``McpToolset`` the
tools an agent has of it; ``serving(teams)`` runs the sessions of a set of
teams for as long as its block (the app's lifespan). The other direction,
teams served as MCP tools at ``/mcp``, is ``troupe.server._mcp``.
"""

from __future__ import annotations

__all__ = [
    "McpApprovalAssistant",
    "McpApprovalCodeAssistant",
    "McpCallError",
    "McpConnection",
    "McpTool",
    "McpToolset",
    "McpUnavailableError",
    "check_servers",
    "connections_of",
    "mcp_tool_name",
    "result_text",
    "serving",
]

from troupe.mcp._approval import McpApprovalAssistant, McpApprovalCodeAssistant
from troupe.mcp._check import check_servers
from troupe.mcp._connection import McpCallError, McpConnection, McpUnavailableError
from troupe.mcp._serving import connections_of, serving
from troupe.mcp._tools import McpTool, McpToolset, mcp_tool_name, result_text
