"""troupe's own MCP server at /mcp, used with the mcp SDK's client: every team is a tool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from tests.asgi import Served
from troupe.agents import AssistantAgent
from troupe.messages import SystemMessage, text_of
from troupe.models.testing import ScriptedModel
from troupe.server import create_app
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def mcp_client(
    served: Served, app: Litestar, key: str | None = None
) -> AsyncIterator[ClientSession]:
    await served.app(app)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://troupe.test", headers=headers
        ) as http,
        streamable_http_client("http://troupe.test/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def app_with(*replies: str, api_keys: tuple[str, ...] = ()) -> tuple[Litestar, ScriptedModel]:
    model = ScriptedModel(list(replies))
    writer = RoundRobinTeam(
        "writer", [AssistantAgent("author", model)], description="Writes short texts."
    )
    echo = RoundRobinTeam("echo", [AssistantAgent("parrot", ScriptedModel(["echo"]))])
    return create_app(teams=[writer, echo], api_keys=api_keys), model


async def test_the_teams_are_the_tools(served: Served) -> None:
    app, _ = app_with()
    async with mcp_client(served, app) as session:
        listed = await session.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == {"writer", "echo"}
    assert tools["writer"].description == "Writes short texts."
    assert tools["writer"].inputSchema["required"] == ["message"]
    assert set(tools["writer"].inputSchema["properties"]) == {"message", "conversation_id"}


async def test_calling_a_team_answers_with_progress_and_a_conversation_to_go_on_with(
    served: Served,
) -> None:
    app, model = app_with("A haiku about rain.", "Now about snow.")
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async with mcp_client(served, app) as session:
        first = await session.call_tool(
            "writer", {"message": "a haiku"}, progress_callback=on_progress
        )
        assert not first.isError
        assert isinstance(first.content[0], types.TextContent)
        assert first.content[0].text == "A haiku about rain."
        assert first.structuredContent is not None
        conversation = first.structuredContent["conversation_id"]
        messages = [message or "" for _, message in progress]
        assert messages[0].startswith("run run_") and conversation in messages[0]
        assert "author is working" in messages
        steps = [done for done, _ in progress]
        assert steps == sorted(steps)

        second = await session.call_tool(
            "writer", {"message": "now snow", "conversation_id": conversation}
        )
    assert second.structuredContent is not None
    assert second.structuredContent["answer"] == "Now about snow."
    assert second.structuredContent["conversation_id"] == conversation
    # The team saw the whole conversation.
    seen = [text_of(m) for m in model.requests[1].messages if not isinstance(m, SystemMessage)]
    assert seen[:3] == ["a haiku", "A haiku about rain.", "now snow"]


async def test_an_unknown_team_and_bad_input_are_tool_errors(served: Served) -> None:
    app, _ = app_with()
    async with mcp_client(served, app) as session:
        unknown = await session.call_tool("nobody", {"message": "hi"})
        missing = await session.call_tool("writer", {})
        bad_id = await session.call_tool("writer", {"message": "x", "conversation_id": "a b"})
    assert unknown.isError and "unknown team 'nobody'" in _text(unknown)
    assert missing.isError and "message" in _text(missing)
    assert bad_id.isError and "invalid conversation id" in _text(bad_id)


async def test_api_keys_apply_to_mcp(served: Served) -> None:
    app, _ = app_with("Hello.", api_keys=("key-1",))
    with pytest.raises(Exception) as refused:  # the SDK raises its own error group
        async with mcp_client(served, app) as session:
            await session.list_tools()
    assert "401" in repr(refused.value) or "Unauthorized" in repr(refused.value)

    async with mcp_client(served, app, key="key-1") as session:
        answer = await session.call_tool("writer", {"message": "hi"})
    assert _text(answer) == "Hello."


async def test_conversations_stay_with_their_key(served: Served) -> None:
    app, _ = app_with("One.", "Two.", api_keys=("key-1", "key-2"))
    async with mcp_client(served, app, key="key-1") as session:
        first = await session.call_tool("writer", {"message": "hi"})
    assert first.structuredContent is not None
    conversation = first.structuredContent["conversation_id"]
    async with mcp_client(served, app, key="key-2") as other:
        stolen = await other.call_tool("writer", {"message": "hi", "conversation_id": conversation})
    # Another key's conversation id names a new conversation of its own: nothing leaks.
    assert stolen.structuredContent is not None
    assert _text(stolen) == "Two."


def _text(result: Any) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_a_key_limited_to_one_team_lists_and_calls_only_that_one(served: Served) -> None:
    from troupe.store import ApiKeyRecord, InMemoryConversationStore, key_digest, new_key

    store = InMemoryConversationStore()
    key = new_key()
    await store.add_key(
        ApiKeyRecord(name="writers-only", digest=key_digest(key), prefix=key[:8], teams=("writer",))
    )
    writer = RoundRobinTeam("writer", [AssistantAgent("author", ScriptedModel(["Yes."]))])
    echo = RoundRobinTeam("echo", [AssistantAgent("parrot", ScriptedModel(["echo"]))])
    app = create_app(teams=[writer, echo], store=store)
    async with mcp_client(served, app, key=key) as session:
        listed = await session.list_tools()
        assert [tool.name for tool in listed.tools] == ["writer"]
        refused = await session.call_tool("echo", {"message": "hi"})
        assert refused.isError
        answered = await session.call_tool("writer", {"message": "hi"})
        assert not answered.isError
