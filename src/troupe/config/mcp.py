"""MCP servers in config: ``mcp_servers:`` and an agent's ``mcp:<server>[/<tool>]`` tools.

A server is a process speaking MCP over stdio (``command``, ``args``, ``env``,
``cwd``) or a streamable-HTTP endpoint (``url``, ``headers``). ``tools`` is an
allow-list (only those tools reach a model), ``approval`` the tools that pause
the run for the human's approval, ``timeout`` the longest a call may take.

Building an agent's ``mcp:`` tools checks references only; the servers are
connected when the app starts (``troupe serve``) or by ``troupe check --connect``.
"""

from __future__ import annotations

__all__ = ["McpServerSpec", "mcp_approval_agent", "mcp_approvals", "mcp_toolset"]

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from msgspec import Meta

from troupe.config._collect import join, shown

if TYPE_CHECKING:
    from troupe.mcp import McpConnection, McpToolset

SERVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_STDIO_ONLY = ("args", "env", "cwd")


class McpServerSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One MCP server: ``command`` (stdio) or ``url`` (streamable HTTP)."""

    command: Annotated[str, Meta(min_length=1)] | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None
    url: Annotated[str, Meta(pattern=r"^https?://")] | None = None
    headers: dict[str, str] = {}
    # Only these tools reach a model (default: every tool the server lists).
    tools: list[str] | None = None
    # These tools pause the run until the human approves the call.
    approval: list[str] = []
    # Seconds a call (and connecting) may take.
    timeout: Annotated[float, Meta(gt=0)] = 60.0

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ValueError(
                "an MCP server needs `command` (a stdio server) or `url` "
                "(a streamable-HTTP server), not both"
            )
        if self.url is not None:
            given = [f for f in _STDIO_ONLY if getattr(self, f)]
            if given:
                raise ValueError(f"`{given[0]}` applies only to a stdio server (`command`)")
        elif self.headers:
            raise ValueError("`headers` applies only to a streamable-HTTP server (`url`)")
        if self.tools is not None:
            unlisted = [t for t in self.approval if t not in self.tools]
            if unlisted:
                raise ValueError(
                    f"approval names {unlisted[0]!r}, which `tools` does not allow; "
                    f"tools: {', '.join(self.tools) or 'none'}"
                )

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"


def _connection(b: Any, name: str) -> McpConnection | None:
    """The builder's connection to server ``name`` (one per server and build)."""
    if name not in b.mcp:
        try:
            from troupe.mcp import McpConnection
        except ImportError:
            b.report(
                join("$.mcp_servers", name),
                "MCP needs the mcp package: pip install 'troupe-server[mcp]'",
            )
            b.mcp[name] = None
        else:
            b.mcp[name] = McpConnection(name, b.spec.mcp_servers[name])
    return b.mcp[name]  # type: ignore[no-any-return]


def mcp_toolset(b: Any, ref: str, path: str) -> McpToolset | None:
    """The tools of ``mcp:<server>`` or ``mcp:<server>/<tool>``, reported at ``path`` if wrong."""
    server, _, tool = ref.removeprefix("mcp:").partition("/")
    servers: dict[str, McpServerSpec] = b.spec.mcp_servers
    if not server or (tool == "" and ref.endswith("/")):
        b.report(path, f"{shown(ref)}: write mcp:<server> or mcp:<server>/<tool>")
        return None
    if not b._known("mcp_servers", server, servers, path):
        return None
    spec = servers[server]
    if tool and spec.tools is not None and tool not in spec.tools:
        close = difflib.get_close_matches(tool, spec.tools, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        b.report(
            path,
            f"MCP server {server!r} does not allow tool {tool!r}{hint}; "
            f"its tools: {', '.join(spec.tools) or 'none'}",
        )
        return None
    connection = _connection(b, server)
    if connection is None:
        b.failed = True
        return None
    from troupe.mcp import McpToolset

    return McpToolset(connection, only=tool or None)


def mcp_approvals(tools: Iterable[object]) -> bool:
    """Whether some of ``tools`` are MCP tools that may need the human's approval."""
    specs = (getattr(getattr(t, "connection", None), "spec", None) for t in tools)
    return any(isinstance(spec, McpServerSpec) and spec.approval for spec in specs)


def mcp_approval_agent(agent_type: type[Any]) -> type[Any]:
    """The agent class that pauses for approval of MCP calls, extending ``agent_type``."""
    from troupe.agents import CodeAssistantAgent
    from troupe.mcp import McpApprovalAssistant, McpApprovalCodeAssistant

    return McpApprovalCodeAssistant if agent_type is CodeAssistantAgent else McpApprovalAssistant
