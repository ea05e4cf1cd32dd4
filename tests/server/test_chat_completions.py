"""The OpenAI SDK against the in-process app: shapes, streaming, usage, events."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest

from tests.server.conftest import app_for
from tests.spec import validate
from tests.sse import assert_numbered, sse_frames
from troupe.agents import AssistantAgent
from troupe.config import ConfigSpec, ServerSpec
from troupe.models import FunctionModel, ModelRequest, ScriptedModel, tool_call
from troupe.server import create_app
from troupe.teams import RoundRobinTeam, TextMention
from troupe.tools import function_tool
from troupe.wire import StreamDecoder, events_from_completion

pytestmark = pytest.mark.anyio


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def tool_team() -> RoundRobinTeam:
    model = ScriptedModel(
        [
            tool_call("add", '{"a": 2, "b": 3}', id="call_a"),
            "The sum is 5.",
        ]
    )
    agent = AssistantAgent("calc", model, tools=[function_tool(add)])
    return RoundRobinTeam("calc", [agent])


def duo_team() -> RoundRobinTeam:
    writer = AssistantAgent("writer", ScriptedModel(["A short poem about tea."] * 3))
    critic = AssistantAgent("critic", ScriptedModel(["Lovely. APPROVE"] * 3))
    return RoundRobinTeam("duo", [writer, critic], termination=TextMention("APPROVE"))


async def test_models_list_and_get(make_client: Any, raw_client: Any) -> None:
    app = app_for(tool_team(), duo_team())
    client = await make_client(app)
    models = await client.models.list()
    assert [m.id for m in models.data] == ["calc", "duo"]
    assert models.data[1].model_extra["agents"][0]["name"] == "writer"
    raw = await (await raw_client(app)).get("/v1/models")
    validate(raw.json(), "ListModelsResponse")
    one = await client.models.retrieve("duo")
    assert one.owned_by == "troupe"
    missing = await (await raw_client(app)).get("/v1/models/nope")
    assert missing.status_code == 404
    validate(missing.json(), "ErrorResponse")
    assert missing.json()["error"]["code"] == "model_not_found"


async def test_non_stream_answer_events_and_usage(make_client: Any, raw_client: Any) -> None:
    client = await make_client(app_for(tool_team()))
    completion = await client.chat.completions.create(
        model="calc", messages=[{"role": "user", "content": "2+3?"}]
    )
    message = completion.choices[0].message
    assert message.content == "The sum is 5."
    assert completion.choices[0].finish_reason == "stop"
    assert message.tool_calls is None  # server-side tools never leak into tool_calls
    events = events_from_completion(completion)
    types = [type(e).__name__ for e in events]
    assert types == [
        "RunStarted",
        "AgentStarted",
        "UsageReported",
        "ToolCalled",
        "ToolResultReturned",
        "TextDelta",
        "UsageReported",
        "AgentFinished",
        "RunEnded",
    ]
    result = events[4]
    assert result.content == "5" and result.call_id == "call_a"  # type: ignore[union-attr]
    assert "calls `add" in message.model_extra["reasoning_content"]
    run_end = events[-1]
    assert completion.usage is not None
    assert completion.usage.total_tokens == run_end.usage.total_tokens > 0  # type: ignore[union-attr]


async def test_stream_equals_non_stream(make_client: Any) -> None:
    client = await make_client(app_for(duo_team()))
    messages = [{"role": "user", "content": "a poem"}]
    whole = await client.chat.completions.create(model="duo", messages=messages)
    client = await make_client(app_for(duo_team()))
    stream = await client.chat.completions.create(
        model="duo", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    decoder = StreamDecoder()
    text = []
    events = []
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        events.extend(decoder.feed(chunk))
    assert "".join(text) == whole.choices[0].message.content
    assert (
        whole.choices[0].message.content
        == "**writer:** A short poem about tea.\n\n**critic:** Lovely. APPROVE"
    )
    # Every chunk but the usage one has exactly one choice; the usage chunk is last.
    assert all(len(c.choices) == 1 for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens  # type: ignore[union-attr]
    agents = [e.agent for e in events if type(e).__name__ == "AgentStarted"]
    assert agents == ["writer", "critic"]
    streamed_text = "".join(e.text for e in events if type(e).__name__ == "TextDelta")  # type: ignore[union-attr]
    assert streamed_text == "A short poem about tea.Lovely. APPROVE"
    run_end = next(e for e in events if type(e).__name__ == "RunEnded")
    assert "APPROVE" in run_end.stop_reason  # type: ignore[union-attr]


async def test_every_chunk_validates_against_openai_spec(raw_client: Any) -> None:
    client = await raw_client(app_for(tool_team()))
    body = {
        "model": "calc",
        "messages": [{"role": "user", "content": "2+3?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-conversation-id"].startswith("conv_")
    assert response.headers["x-run-id"].startswith("run_")
    frames = sse_frames(response.text)
    assert_numbered(frames)
    assert frames[-1].data == "[DONE]"
    for frame in frames[:-1]:
        validate(json.loads(frame.data), "CreateChatCompletionStreamResponse")
    whole = await (await raw_client(app_for(tool_team()))).post(
        "/v1/chat/completions", json={**body, "stream": False}
    )
    validate(whole.json(), "CreateChatCompletionResponse")


async def test_conversation_continues_from_resent_history(make_client: Any) -> None:
    seen: list[ModelRequest] = []

    def reply(request: ModelRequest) -> str:
        seen.append(request)
        return f"answer {len(seen)}"

    team = RoundRobinTeam("chat", [AssistantAgent("bot", FunctionModel(reply))])
    client = await make_client(app_for(team))
    first = await client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hello"}]
    )
    conversation = first.headers["x-conversation-id"]
    answer = first.parse().choices[0].message.content
    history = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "and then?"},
    ]
    second = await client.chat.completions.with_raw_response.create(model="chat", messages=history)
    assert second.headers["x-conversation-id"] == conversation
    # The model saw the conversation once, not the resent history twice.
    texts = [m.content for m in seen[1].messages[1:]]
    assert texts == ["hello", "answer 1", "and then?"]
    # Editing earlier history starts a new branch.
    edited = [{**history[0], "content": "goodbye"}, *history[1:]]
    third = await client.chat.completions.with_raw_response.create(model="chat", messages=edited)
    assert third.headers["x-conversation-id"] != conversation


async def test_explicit_conversation_id_header(make_client: Any) -> None:
    team = RoundRobinTeam("chat", [AssistantAgent("bot", ScriptedModel(["one", "two"]))])
    client = await make_client(app_for(team))
    headers = {"X-Conversation-Id": "my-chat-1"}
    await client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "a"}], extra_headers=headers
    )
    second = await client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "b"}], extra_headers=headers
    )
    assert second.headers["x-conversation-id"] == "my-chat-1"
    events = events_from_completion(second.parse())
    assert events[-1].conversation_id == "my-chat-1"  # type: ignore[union-attr]


async def test_keepalive_comments_while_the_model_is_slow(raw_client: Any) -> None:
    async def slow(request: ModelRequest) -> str:
        await anyio.sleep(0.35)
        return "finally"

    team = RoundRobinTeam("slow", [AssistantAgent("bot", FunctionModel(slow))])
    app = create_app(ConfigSpec(server=ServerSpec(keepalive_seconds=0.1)), teams=[team])
    response = await (await raw_client(app)).post(
        "/v1/chat/completions",
        json={"model": "slow", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    assert ": keepalive" in response.text
    assert "finally" in response.text
    assert response.text.endswith("data: [DONE]\n\n")


async def test_busy_conversation_is_409(raw_client: Any) -> None:
    release = anyio.Event()

    async def wait(request: ModelRequest) -> str:
        await release.wait()
        return "done"

    team = RoundRobinTeam("wait", [AssistantAgent("bot", FunctionModel(wait))])
    client: httpx2.AsyncClient = await raw_client(app_for(team))
    body = {"model": "wait", "messages": [{"role": "user", "content": "x"}]}
    headers = {"x-conversation-id": "c1"}
    statuses: list[int] = []

    async def first() -> None:
        statuses.append(
            (await client.post("/v1/chat/completions", json=body, headers=headers)).status_code
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await anyio.sleep(0.05)
        busy = await client.post("/v1/chat/completions", json=body, headers=headers)
        assert busy.status_code == 409
        assert busy.json()["error"]["code"] == "conversation_busy"
        release.set()
    assert statuses == [200]
