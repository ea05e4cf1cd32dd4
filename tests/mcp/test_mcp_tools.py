"""A team's agent calls the tools of real MCP servers (stdio and streamable HTTP) through
the fake upstream's tool calls; what the user sees in the answer, the stream's events and
what the upstream model was sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_upstream import FakeOpenAIServer, Reply, ScriptedCall
from tests.mcp.conftest import stdio_server, write_config
from troupe.events import InputRequested, ToolCalled, ToolResultReturned
from troupe.wire import events_from_completion

pytestmark = pytest.mark.anyio
ClientFor = Callable[[Path], Awaitable[AsyncOpenAI]]


def call(name: str, arguments: str = "{}") -> Reply:
    return Reply(tool_calls=[ScriptedCall(name=name, arguments=arguments)])


async def ask(client_for: ClientFor, config: Path, text: str, **extra: Any) -> Any:
    client = await client_for(config)
    return await client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": text}], **extra
    )


def tool_messages(upstream: FakeOpenAIServer, index: int) -> list[dict[str, Any]]:
    return [m for m in upstream.requests[index]["messages"] if m["role"] == "tool"]


def results(completion: Any) -> list[ToolResultReturned]:
    return [e for e in events_from_completion(completion) if isinstance(e, ToolResultReturned)]


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_an_agent_calls_an_mcp_tool_and_the_result_reaches_stream_and_model(
    client_for: ClientFor,
    tmp_path: Path,
    upstream: FakeOpenAIServer,
    notes: Path,
    transport: str,
    request: pytest.FixtureRequest,
) -> None:
    server = (
        stdio_server(notes)
        if transport == "stdio"
        else {"url": request.getfixturevalue("http_server")}
    )
    config = write_config(tmp_path, upstream, {"calc": server}, ["mcp:calc"])
    upstream.script(call("calc__add", '{"a": 2, "b": 3}'), Reply(text="It is 5."))

    completion = await ask(client_for, config, "2+3?")

    assert completion.choices[0].message.content == "It is 5."
    calls = [e for e in events_from_completion(completion) if isinstance(e, ToolCalled)]
    assert [(c.name, c.arguments) for c in calls] == [("calc__add", '{"a": 2, "b": 3}')]
    assert [(r.name, r.content, r.is_error) for r in results(completion)] == [
        ("calc__add", "5", False)
    ]
    assert tool_messages(upstream, 1)[0]["content"] == "5"
    sent = {t["function"]["name"]: t["function"] for t in upstream.requests[0]["tools"]}
    assert sent["calc__add"]["description"] == "Add two numbers."
    assert sent["calc__add"]["parameters"]["required"] == ["a", "b"]


async def test_the_allow_list_hides_tools_from_the_model(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    servers = {"calc": stdio_server(notes, tools=["add", "weather"])}
    config = write_config(tmp_path, upstream, servers, ["mcp:calc"])
    upstream.script(call("calc__secret"), Reply(text="no luck"))

    completion = await ask(client_for, config, "tell me")

    sent = sorted(t["function"]["name"] for t in upstream.requests[0]["tools"])
    assert sent == ["calc__add", "calc__weather"]
    [result] = results(completion)
    assert result.is_error and "unknown tool 'calc__secret'" in result.content
    assert "the secret" not in str(upstream.requests[1]["messages"])


async def test_one_tool_of_a_server(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    config = write_config(tmp_path, upstream, {"calc": stdio_server(notes)}, ["mcp:calc/weather"])
    upstream.script(call("calc__weather", '{"city": "Oslo"}'), Reply(text="Mild."))

    completion = await ask(client_for, config, "weather in Oslo?")

    assert [t["function"]["name"] for t in upstream.requests[0]["tools"]] == ["calc__weather"]
    [result] = results(completion)
    # Structured content reaches the model as JSON text.
    assert '"city": "Oslo"' in result.content or '"city":"Oslo"' in result.content
    assert "21.5" in result.content


async def test_a_failing_tool_is_an_error_result_the_model_reads(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    config = write_config(tmp_path, upstream, {"calc": stdio_server(notes)}, ["mcp:calc"])
    upstream.script(
        call("calc__fail", '{"why": "no reason"}'),
        Reply(text="It failed."),
        call("calc__picture"),
        Reply(text="A picture."),
    )
    client = await client_for(config)
    first = await client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": "fail"}]
    )
    [failed] = results(first)
    assert failed.is_error and "cannot do it: no reason" in failed.content
    assert "cannot do it" in tool_messages(upstream, 1)[0]["content"]

    second = await client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": "a picture"}]
    )
    [picture] = results(second)
    assert not picture.is_error and picture.content.startswith("[image: image/png")
    # The model can see images (the default): the image follows the tool results.
    after_tools = upstream.requests[3]["messages"][-1]
    assert after_tools["role"] == "user"
    assert after_tools["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_a_model_that_cannot_see_images_reads_their_description(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    config = write_config(tmp_path, upstream, {"calc": stdio_server(notes)}, ["mcp:calc"])
    text = config.read_text().replace(
        "provider: openai", "provider: openai\n    capabilities: {vision: false}"
    )
    config.write_text(text)
    upstream.script(call("calc__picture"), Reply(text="A picture."))
    await ask(client_for, config, "a picture")
    sent = upstream.requests[1]["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["content"].startswith("[image: image/png")
    assert "image_url" not in str(sent)


async def pause_for_approval(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path, folder: str
) -> tuple[AsyncOpenAI, str]:
    """A run that waits for the human to approve deleting ``folder``: its client, conversation."""
    servers = {"files": stdio_server(notes, approval=["delete_all"])}
    config = write_config(tmp_path, upstream, servers, ["mcp:files"])
    arguments = msgspec.json.encode({"folder": folder}).decode()
    upstream.script(call("files__delete_all", arguments), Reply(text="Asked."))
    client = await client_for(config)
    paused = await client.chat.completions.create(
        model="helper", messages=[{"role": "user", "content": f"clean {folder}"}]
    )
    [asked] = [e for e in events_from_completion(paused) if isinstance(e, InputRequested)]
    assert asked.kind == "approval" and f"files__delete_all({arguments})" in asked.prompt
    assert not (notes / "deleted").exists()
    return client, _conversation(paused)


async def test_approval_pauses_and_approve_runs_the_tool(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    client, conversation = await pause_for_approval(client_for, tmp_path, upstream, notes, "/tmp/x")
    upstream.script(Reply(text="Deleted."))
    done = await client.chat.completions.create(
        model="helper",
        messages=[{"role": "user", "content": "approve"}],
        metadata={"conversation_id": conversation},
    )
    assert (notes / "deleted").read_text() == "/tmp/x"
    assert done.choices[0].message.content == "Deleted."
    [result] = results(done)
    assert result.content == "deleted everything in /tmp/x"
    assert "deleted everything in /tmp/x" in str(upstream.requests[-1]["messages"])


async def test_approval_rejected_tells_the_model_why(
    client_for: ClientFor, tmp_path: Path, upstream: FakeOpenAIServer, notes: Path
) -> None:
    client, conversation = await pause_for_approval(client_for, tmp_path, upstream, notes, "/x")
    upstream.script(Reply(text="Fine, I won't."))
    await client.chat.completions.create(
        model="helper",
        messages=[{"role": "user", "content": "reject: keep my files"}],
        metadata={"conversation_id": conversation},
    )
    assert not (notes / "deleted").exists()
    assert "rejected calling files__delete_all: keep my files" in str(upstream.requests[-1])


def _conversation(completion: Any) -> str:
    for event in events_from_completion(completion):
        conversation = getattr(event, "conversation_id", None)
        if conversation:
            return str(conversation)
    raise AssertionError("no conversation id in the completion")
