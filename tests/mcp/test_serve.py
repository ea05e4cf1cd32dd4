"""A real ``troupe serve`` with an MCP server in its config, called over HTTP by the mcp
SDK's client at /mcp: the team's agent uses the MCP tool, progress streams, the answer
comes back. A server that is down at startup stops ``troupe serve``, naming it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import Upstream, free_port, start, stop
from tests.mcp.conftest import stdio_server

KEY = "sk-mcp-e2e"


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[Upstream]:
    port = free_port()
    proc = start(
        [sys.executable, "-m", "tests.fakes.openai_upstream", "--port", str(port)],
        f"http://127.0.0.1:{port}/v1/models",
    )
    yield Upstream(port)
    stop(proc)


def config_file(directory: Path, base_url: str, servers: dict[str, object]) -> Path:
    config = {
        "models": {
            "gpt": {"provider": "openai", "model": "m", "base_url": base_url, "api_key": "none"}
        },
        "mcp_servers": servers,
        "teams": {
            "helper": {
                "description": "Adds numbers.",
                "agents": [{"name": "adder", "model": "gpt", "tools": ["mcp:calc"]}],
            }
        },
    }
    path = directory / "teams.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def serve_args(config: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "troupe.cli", "serve", "-c", str(config), "--port", str(port)]


@pytest.mark.anyio
async def test_an_mcp_client_calls_a_team_that_uses_an_mcp_server(
    fake_upstream: Upstream, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    config = config_file(tmp_path, fake_upstream.base_url, {"calc": stdio_server(notes)})
    port = free_port()
    proc = start(
        serve_args(config, port),
        f"http://127.0.0.1:{port}/health",
        env={"TROUPE_API_KEYS": KEY},
        cwd=tmp_path,
    )
    try:
        assert (notes / "pid").exists()  # the MCP server was started with the app
        fake_upstream.script(
            {"tool_calls": [{"name": "calc__add", "arguments": '{"a": 20, "b": 22}'}]},
            {"text": "The sum is 42."},
        )
        progress: list[str] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        async with (
            httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http,
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (
                read,
                write,
                _,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert [tool.name for tool in (await session.list_tools()).tools] == ["helper"]
            result = await session.call_tool(
                "helper", {"message": "20+22?"}, progress_callback=on_progress
            )
        assert not result.isError
        assert isinstance(result.content[0], types.TextContent)
        assert result.content[0].text == "The sum is 42."
        assert "adder calls calc__add" in progress
        assert "calc__add answered adder" in progress
        tool_message = [m for m in fake_upstream.requests()[-1]["messages"] if m["role"] == "tool"]
        assert tool_message[0]["content"] == "42"
    finally:
        stderr = stop(proc)
        fake_upstream.reset()
    assert "Traceback" not in stderr, stderr


def test_serve_refuses_to_start_when_an_mcp_server_is_down(
    fake_upstream: Upstream, tmp_path: Path
) -> None:
    down = {"calc": {"url": f"http://127.0.0.1:{free_port()}/mcp", "timeout": 5}}
    config = config_file(tmp_path, fake_upstream.base_url, down)
    proc = subprocess.run(
        serve_args(config, free_port()), cwd=tmp_path, capture_output=True, timeout=120
    )
    assert proc.returncode != 0
    assert "cannot start: MCP server 'calc' (http://127.0.0.1:" in proc.stderr.decode()
