"""Client tools over chat completions: the team calls the client's functions, the client
runs them and sends the results, the same agent goes on (the openai SDK, in process)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.server.conftest import app_for
from tests.spec import validate
from tests.sse import assert_numbered, sse_frames
from troupe.agents import AssistantAgent
from troupe.messages import ToolMessage
from troupe.models import FunctionModel, ModelRequest, ModelResponse, ScriptedModel, tool_call
from troupe.models.testing import Reply
from troupe.teams import RoundRobinTeam
from troupe.tools import function_tool

pytestmark = pytest.mark.anyio

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def forecaster(request: ModelRequest) -> Reply:
    """Calls the client's weather tool, then answers from its result."""
    last = request.messages[-1]
    if isinstance(last, ToolMessage):
        results = [m.content for m in request.messages if isinstance(m, ToolMessage)]
        return "Forecast: " + "; ".join(results)
    if any(tool.name == "get_weather" for tool in request.tools):
        return ModelResponse(
            content="Let me check.",
            tool_calls=(tool_call("get_weather", '{"city": "Paris"}', id="call_w"),),
        )
    return "I have no weather tool."


def weather_team(fn: Any = forecaster, **agent: Any) -> RoundRobinTeam:
    return RoundRobinTeam("weather", [AssistantAgent("forecaster", FunctionModel(fn), **agent)])


def history(
    calls: list[dict[str, Any]], results: dict[str, str], said: str | None = "Let me check."
) -> list[dict[str, Any]]:
    return [
        *ASK,
        {"role": "assistant", "content": said, "tool_calls": calls},
        *({"role": "tool", "tool_call_id": k, "content": v} for k, v in results.items()),
    ]


async def test_a_client_tool_call_ends_the_answer_and_its_result_resumes_the_run(
    make_client: Any, raw_client: Any
) -> None:
    app = app_for(weather_team())
    client = await make_client(app)
    first = await client.chat.completions.create(model="weather", messages=ASK, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    [call] = choice.message.tool_calls or []
    assert (call.id, call.function.name) == ("call_w", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    validate(first.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    run = await (await raw_client(app)).get(f"/v1/runs/run_{first.id.removeprefix('chatcmpl-')}")
    assert run.json()["status"] == "requires_input"

    calls = [call.model_dump()]
    second = await client.chat.completions.create(
        model="weather", messages=history(calls, {"call_w": "sunny, 21 C"}), tools=[WEATHER]
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Forecast: sunny, 21 C"


async def test_streamed_tool_calls_are_standard_delta_tool_calls(make_client: Any) -> None:
    client = await make_client(app_for(weather_team()))
    stream = await client.chat.completions.create(
        model="weather", messages=ASK, tools=[WEATHER], stream=True
    )
    chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        validate(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    [[delta]] = deltas
    assert (delta.index, delta.id, delta.type) == (0, "call_w", "function")
    assert delta.function is not None and delta.function.name == "get_weather"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Let me check."

    # The SDK's own accumulation reads it as one call.
    async with client.beta.chat.completions.stream(
        model="weather", messages=ASK, tools=[WEATHER], extra_headers={"x-conversation-id": "s2"}
    ) as sdk_stream:
        final = await sdk_stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.function.arguments == '{"city": "Paris"}'


async def test_the_stream_frames_stay_numbered(raw_client: Any) -> None:
    http = await raw_client(app_for(weather_team()))
    body = {"model": "weather", "messages": ASK, "tools": [WEATHER], "stream": True}
    response = await http.post("/v1/chat/completions", json=body)
    frames = sse_frames(response.text)
    assert_numbered(frames)
    carried = [json.loads(f.data) for f in frames if '"tool_calls":[' in f.data]
    assert carried[0]["choices"][0]["delta"]["troupe"]["type"] == "client_tools"


async def test_several_calls_and_a_server_tool_in_one_reply(make_client: Any) -> None:
    def fn(request: ModelRequest) -> Reply:
        if isinstance(request.messages[-1], ToolMessage):
            done = [f"{m.name}={m.content}" for m in request.messages if isinstance(m, ToolMessage)]
            return " ".join(done)
        return [
            tool_call("add", '{"a": 1, "b": 2}', id="call_add"),
            tool_call("get_weather", '{"city": "Oslo"}', id="call_1"),
            tool_call("get_time", "{}", id="call_2"),
        ]

    client = await make_client(app_for(weather_team(fn, tools=[function_tool(add)])))
    first = await client.chat.completions.create(
        model="weather", messages=ASK, tools=[WEATHER, TIME]
    )
    calls = first.choices[0].message.tool_calls or []
    # The server's own tool ran on the server: it is not among the client's calls.
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    second = await client.chat.completions.create(
        model="weather",
        messages=history(
            [c.model_dump() for c in calls], {"call_2": "noon", "call_1": "snow"}, None
        ),
        tools=[WEATHER, TIME],
    )
    assert second.choices[0].message.content == "add=3 get_weather=snow get_time=noon"


async def test_an_agent_can_refuse_client_tools(make_client: Any) -> None:
    model = ScriptedModel(["No tools for me."])
    team = RoundRobinTeam("weather", [AssistantAgent("plain", model, client_tools=False)])
    client = await make_client(app_for(team))
    answer = await client.chat.completions.create(model="weather", messages=ASK, tools=[WEATHER])
    assert answer.choices[0].message.content == "No tools for me."
    assert model.requests[0].tools == ()


async def test_tool_choice_and_response_format_reach_the_answering_agent(
    make_client: Any,
) -> None:
    model = ScriptedModel([tool_call("get_weather", '{"city": "Rome"}'), '{"sky": "clear"}'])
    client = await make_client(app_for(_team(model)))
    schema = {"type": "object", "properties": {"sky": {"type": "string"}}, "required": ["sky"]}
    await client.chat.completions.create(
        model="weather",
        messages=ASK,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        response_format={"type": "json_schema", "json_schema": {"name": "sky", "schema": schema}},
    )
    request = model.requests[0]
    assert request.tool_choice == "required"
    assert [t.name for t in request.tools] == ["get_weather"]
    assert request.output_schema is not None and request.output_schema.schema == schema


def _team(model: ScriptedModel) -> RoundRobinTeam:
    return RoundRobinTeam("weather", [AssistantAgent("forecaster", model)])


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"tools": [{"type": "function", "function": {"name": "add"}}]}, "tools[0]", "'add'"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1]", "two client tools"),
        (
            {"tools": [{"type": "custom", "custom": {"name": "grep"}}]},
            "tools[0]",
            "only function tools",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
            "'x'",
        ),
        ({"tool_choice": "required"}, "tool_choice", "needs tools"),
        (
            {"messages": [*history([], {"call_zz": "hi"})]},
            "messages",
            "answers no pending call",
        ),
    ],
)
async def test_bad_client_tools_are_400s_naming_the_field(
    raw_client: Any, body: dict[str, Any], param: str, says: str
) -> None:
    http = await raw_client(app_for(weather_team(tools=[function_tool(add)])))
    response = await http.post(
        "/v1/chat/completions", json={"model": "weather", "messages": ASK, **body}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    validate(response.json(), "ErrorResponse")
    assert error["param"] == param
    assert says in error["message"]
