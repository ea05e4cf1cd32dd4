"""mcp_servers in config: every mistake reported at its path, in one go; ${ENV} in headers."""

from __future__ import annotations

import pytest

from troupe.config import read_teams
from troupe.errors import ConfigError
from troupe.mcp import McpApprovalAssistant, McpToolset

BASE = """
models:
  demo: {provider: demo}
mcp_servers:
  files: {command: npx, args: ["-y", "server-filesystem", "/data"], tools: [read_file, write_file], approval: [write_file]}
  search: {url: "https://mcp.example.com/mcp", headers: {Authorization: "Bearer ${SEARCH_KEY}"}, timeout: 5}
teams:
  research:
    agents:
      - {name: researcher, model: demo, tools: %s}
"""


def issues(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read_teams(text, env=env or {"SEARCH_KEY": "k"})
    return [str(issue) for issue in caught.value.issues]


def test_agents_get_the_servers_they_name() -> None:
    spec, teams = read_teams(
        BASE % '["mcp:search", "mcp:files/read_file", "troupe.tools.builtin:calculator"]',
        env={"SEARCH_KEY": "secret"},
    )
    assert spec.mcp_servers["search"].headers == {"Authorization": "Bearer secret"}
    agent = teams["research"].agents[0]
    toolsets = list(agent.toolsets)  # type: ignore[attr-defined]
    assert [(t.connection.name, t.only) for t in toolsets if isinstance(t, McpToolset)] == [
        ("search", None),
        ("files", "read_file"),
    ]
    # Files' write_file needs approval: the agent is one that can pause for it.
    assert isinstance(agent, McpApprovalAssistant)
    assert list(agent.tools) == ["calculator"]  # type: ignore[attr-defined]


def test_every_mcp_mistake_is_reported_at_its_path() -> None:
    text = """
models:
  demo: {provider: demo}
mcp_servers:
  both: {command: x, url: "http://h/mcp"}
  neither: {tools: [a]}
  web: {url: "http://h/mcp", args: [a]}
  local: {command: x, headers: {A: b}}
  strict: {command: x, tools: [a], approval: [b]}
  slow: {command: x, timeout: 0}
  fine: {command: x, tools: [a]}
  "bad name": {command: x}
teams:
  t:
    agents:
      - {name: a, model: demo, tools: ["mcp:fin", "mcp:fine/c", "mcp:"]}
"""
    found = issues(text)
    assert (
        "$.mcp_servers.both: an MCP server needs `command` (a stdio server) or `url` (a streamable-HTTP server), not both"
        in found
    )
    assert any(i.startswith("$.mcp_servers.neither: an MCP server needs") for i in found)
    assert "$.mcp_servers.web: `args` applies only to a stdio server (`command`)" in found
    assert (
        "$.mcp_servers.local: `headers` applies only to a streamable-HTTP server (`url`)" in found
    )
    assert any(
        i.startswith("$.mcp_servers.strict: approval names 'b', which `tools` does not allow")
        for i in found
    )
    assert any(i.startswith("$.mcp_servers.slow.timeout:") for i in found)
    assert any(i.startswith("$.mcp_servers['bad name']") for i in found)
    assert any(
        i.startswith(
            "$.teams.t.agents[0].tools[0]: unknown mcp_server 'fin' (did you mean 'fine'?)"
        )
        for i in found
    )
    assert any(
        i.startswith("$.teams.t.agents[0].tools[1]: MCP server 'fine' does not allow tool 'c'")
        for i in found
    )
    assert any(i.startswith("$.teams.t.agents[0].tools[2]: 'mcp:': write") for i in found)
