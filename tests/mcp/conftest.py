"""Real MCP servers (tests/mcp/server.py, FastMCP) over stdio and streamable HTTP, and a
fake OpenAI upstream whose scripted tool calls make a team's agent call their tools."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar import Litestar
from openai import AsyncOpenAI

from tests.asgi import Served
from tests.e2e.conftest import free_port, start, stop
from tests.fakes.openai_upstream import FakeOpenAIServer
from troupe.server import TroupePlugin, create_app

SERVER = Path(__file__).with_name("server.py")


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """Where the MCP servers leave notes (cancelled calls, their pid)."""
    path = tmp_path / "notes"
    path.mkdir()
    return path


def stdio_server(notes: Path, **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVER), "stdio", str(notes)], **extra}


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    """The test server over streamable HTTP, as a process: its /mcp URL."""
    notes = tmp_path / "http-notes"
    notes.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = start([sys.executable, str(SERVER), "http", str(notes), str(port)], url)
    try:
        yield url
    finally:
        stop(proc)


def write_config(
    tmp_path: Path,
    upstream: FakeOpenAIServer | str,
    servers: dict[str, Any],
    tools: list[str],
    *,
    more: dict[str, Any] | None = None,
) -> Path:
    base_url = upstream if isinstance(upstream, str) else upstream.base_url
    config = {
        "models": {"gpt": {"provider": "openai", "model": "m", "base_url": base_url}},
        "mcp_servers": servers,
        "teams": {
            "helper": {
                "description": "Answers with tools.",
                "agents": [{"name": "assistant", "model": "gpt", "tools": tools}],
            }
        },
        **(more or {}),
    }
    config["models"]["gpt"]["api_key"] = "test-upstream-key"
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
async def client_for(served: Served) -> AsyncIterator[Callable[[Path], Awaitable[AsyncOpenAI]]]:
    """``await client_for(config)``: the openai SDK on an app of that config file; the
    app's model clients closed at the end."""
    apps: list[Litestar] = []

    async def make(config: Path) -> AsyncOpenAI:
        app = create_app(config)
        apps.append(app)
        return await served.openai(app)

    yield make
    for app in apps:
        for team in app.plugins.get(TroupePlugin).service.teams.values():
            for agent in team.agents:
                close = getattr(getattr(agent, "model", None), "aclose", None)
                if close is not None:
                    await close()
