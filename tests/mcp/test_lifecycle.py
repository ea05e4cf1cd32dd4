"""One session per MCP server: reopened after a crash, bounded by its timeout, told when a
call is cancelled, refreshed when its tools change, and a clear error when it is down."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_upstream import FakeOpenAIServer, Reply, ScriptedCall
from tests.mcp.conftest import SERVER, stdio_server, write_config
from troupe.cli import main
from troupe.config import load_teams
from troupe.config.mcp import McpServerSpec
from troupe.events import ToolResultReturned
from troupe.mcp import McpConnection, McpToolset, McpUnavailableError, serving
from troupe.wire import events_from_completion

pytestmark = pytest.mark.anyio
NO_UPSTREAM = "http://127.0.0.1:9/v1"  # troupe check calls no model
ClientFor = Callable[[Path], Awaitable[AsyncOpenAI]]


def spec(notes: Path, **extra: object) -> McpServerSpec:
    return McpServerSpec(command=sys.executable, args=[str(SERVER), "stdio", str(notes)], **extra)  # type: ignore[arg-type]


async def appears(path: Path) -> None:
    """Wait (bounded) for a note the server writes."""
    with anyio.fail_after(20):
        # Another process writes it: nothing to wait on but the file.
        while not await anyio.Path(path).exists():  # noqa: ASYNC110
            await anyio.sleep(0.02)


async def result_of(client: AsyncOpenAI, text: str) -> ToolResultReturned:
    completion = await client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": text}]
    )
    [result] = [e for e in events_from_completion(completion) if isinstance(e, ToolResultReturned)]
    return result


def call(name: str, arguments: str = "{}") -> Reply:
    return Reply(tool_calls=[ScriptedCall(name=name, arguments=arguments)])


async def test_a_server_that_dies_mid_call_is_a_tool_error_and_the_next_call_works(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    config = write_config(tmp_path, upstream, {"calc": stdio_server(notes)}, ["mcp:calc"])
    client = await client_for(config)
    first_pid = (notes / "pid").read_text()
    upstream.script(call("calc__crash"), Reply(text="It broke."))
    crashed = await result_of(client, "crash")
    assert crashed.is_error and "calc" in crashed.content

    upstream.script(call("calc__add", '{"a": 1, "b": 1}'), Reply(text="2"))
    again = await result_of(client, "1+1")
    assert (again.content, again.is_error) == ("2", False)
    assert (notes / "pid").read_text() != first_pid  # a new server process


async def test_a_hung_server_is_bounded_by_its_timeout_and_told_to_stop(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    servers = {"slow": stdio_server(notes, timeout=1)}
    config = write_config(tmp_path, upstream, servers, ["mcp:slow"])
    client = await client_for(config)
    upstream.script(call("slow__wait", '{"tag": "hung"}'), Reply(text="Too slow."))

    result = await result_of(client, "wait")

    assert result.is_error and "did not answer wait within 1s" in result.content
    await appears(notes / "cancelled-hung")  # notifications/cancelled reached the server
    upstream.script(call("slow__add", '{"a": 2, "b": 2}'), Reply(text="4"))
    assert (await result_of(client, "2+2")).content == "4"  # the session goes on


async def test_cancelling_a_call_sends_notifications_cancelled(notes: Path) -> None:
    connection = McpConnection("calc", spec(notes))
    async with anyio.create_task_group() as tg:
        connection.serve(tg)
        async with anyio.create_task_group() as calls:
            calls.start_soon(connection.call, "wait", {"tag": "run"})
            await appears(notes / "started-run")
            calls.cancel_scope.cancel()
        await appears(notes / "cancelled-run")
        assert (await connection.call("add", {"a": 3, "b": 4})).content[0].text == "7"  # type: ignore[union-attr]
        connection.close()


async def test_tools_list_changed_shows_the_new_tool_on_the_next_listing(notes: Path) -> None:
    connection = McpConnection("calc", spec(notes))
    toolset = McpToolset(connection)
    async with anyio.create_task_group() as tg:
        connection.serve(tg)
        before = {tool.name for tool in await toolset.list_tools()}
        await connection.call("grow", {})
        after = {tool.name for tool in await toolset.list_tools()}
        connection.close()
    assert "calc__shout" not in before
    assert after - before == {"calc__shout"}
    assert connection.opened == 1  # one session all along


async def test_sessions_are_shared_by_runs(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    config = write_config(tmp_path, upstream, {"calc": stdio_server(notes)}, ["mcp:calc"])
    client = await client_for(config)
    for n in range(3):
        upstream.script(call("calc__add", f'{{"a": {n}, "b": 1}}'), Reply(text="ok"))
        assert (await result_of(client, "add")).content == str(n + 1)
    pid = (notes / "pid").read_text()
    assert len(pid) > 0 and (notes / "pid").read_text() == pid


async def test_a_server_down_at_startup_is_an_error_naming_it(
    tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    servers = {
        "calc": stdio_server(notes),
        "gone": {"url": "http://127.0.0.1:9/mcp", "timeout": 5},
        "broken": {"command": str(tmp_path / "no-such-program")},
    }
    config = write_config(tmp_path, upstream, servers, ["mcp:calc", "mcp:gone", "mcp:broken"])
    _, teams = load_teams(config)
    with pytest.raises(McpUnavailableError) as caught:
        async with serving(teams.values()):
            pass
    message = caught.value.message
    assert "MCP server 'gone' (http://127.0.0.1:9/mcp)" in message
    assert "MCP server 'broken'" in message and "no-such-program" in message
    assert "'calc'" not in message


def test_check_connect_lists_each_servers_tools(
    tmp_path: Path, notes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = {"calc": stdio_server(notes, tools=["add", "delete_all"], approval=["delete_all"])}
    config = write_config(tmp_path, NO_UPSTREAM, servers, ["mcp:calc"])
    assert main(["check", str(config), "--connect"]) == 0
    out = capsys.readouterr().out
    assert "calc (stdio): " in out
    assert "calc__add: Add two numbers." in out
    assert "calc__delete_all [needs approval]" in out
    assert "secret: not allowed" in out


def test_check_connect_fails_for_a_server_that_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = {"gone": {"url": "http://127.0.0.1:9/mcp", "timeout": 5}}
    config = write_config(tmp_path, NO_UPSTREAM, servers, ["mcp:gone"])
    assert main(["check", str(config), "--connect"]) == 1
    assert "gone (http): cannot connect" in capsys.readouterr().out


async def test_stopping_a_run_cancels_its_mcp_call(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    config = write_config(tmp_path, upstream, {"calc": stdio_server(notes)}, ["mcp:calc"])
    client = await client_for(config)
    upstream.script(call("calc__wait", '{"tag": "stopped"}'), Reply(text="never"))

    async def ask() -> None:
        await client.chat.completions.create(
            model="helper",
            messages=[{"role": "user", "content": "wait"}],
            metadata={"conversation_id": "conv-stop"},
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        await appears(notes / "started-stopped")
        await client.post("/conversations/conv-stop/stop", cast_to=object, body={})
        await appears(notes / "cancelled-stopped")  # notifications/cancelled reached it
        tg.cancel_scope.cancel()


async def test_a_server_that_cannot_be_reopened_fails_the_run_naming_it(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    script = tmp_path / "server_copy.py"
    script.write_text(SERVER.read_text())
    server = {"command": sys.executable, "args": [str(script), "stdio", str(notes)]}
    config = write_config(tmp_path, upstream, {"calc": server}, ["mcp:calc"])
    client = await client_for(config)
    upstream.script(call("calc__crash"), Reply(text="It broke."))
    await result_of(client, "crash")
    script.unlink()  # the server cannot start again

    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(
            model="helper", messages=[{"role": "user", "content": "add"}]
        )
    assert caught.value.status_code == 502
    assert "MCP server 'calc'" in caught.value.message
