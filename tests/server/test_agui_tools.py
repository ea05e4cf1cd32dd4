"""AG-UI front-end tools in process: the front end's ``tools`` are offered to the team, an
agent's call ends the run with ``TOOL_CALL_*`` and ``RUN_FINISHED``, and the front end's next
run on the thread, with the result as a ``role: tool`` message, goes on from it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asgi import Served
from tests.server.conftest import app_for
from tests.server.test_agui import KEY, post_run, run_input, types, user
from troupe.agents import AssistantAgent
from troupe.messages import ToolMessage, UserMessage
from troupe.models import FunctionModel, ModelRequest, ModelResponse, tool_call
from troupe.models.testing import Reply
from troupe.teams import RoundRobinTeam
from troupe.tools.builtin import calculator

pytestmark = pytest.mark.anyio

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city, as the user's browser sees it.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
CALL = {
    "id": "call_w",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def forecaster(request: ModelRequest) -> Reply:
    """Calls the front end's weather tool, then answers from its result."""
    if isinstance(request.messages[-1], ToolMessage):
        return "Forecast: " + request.messages[-1].content
    if any(tool.name == "get_weather" for tool in request.tools):
        return ModelResponse(
            content="Let me check.",
            tool_calls=(tool_call("get_weather", '{"city": "Paris"}', id="call_w"),),
        )
    return "I have no weather tool."


def team() -> RoundRobinTeam:
    agent = AssistantAgent("forecaster", FunctionModel(forecaster), tools=[calculator])
    return RoundRobinTeam("support", [agent])


async def test_a_front_end_tool_call_ends_the_run_and_its_result_resumes_it(
    served: Served,
) -> None:
    app = app_for(team(), api_keys=[KEY])
    ask = user("Weather in Paris?")
    events = await post_run(served, app, run_input("thread-t", "r1", ask, tools=[WEATHER]))
    seen = [k for k in types(events) if k != "CUSTOM"]  # usage reports aside
    kinds = [k for i, k in enumerate(seen) if i == 0 or k != seen[i - 1]]
    assert kinds == [
        "RUN_STARTED",
        "STEP_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "STEP_FINISHED",
        "RUN_FINISHED",
    ]
    (start,) = [e for e in events if e["type"] == "TOOL_CALL_START"]
    (args,) = [e for e in events if e["type"] == "TOOL_CALL_ARGS"]
    assert start["toolCallName"] == "get_weather" and start["toolCallId"] == "call_w"
    assert args["delta"] == '{"city": "Paris"}'
    finished = events[-1]
    assert finished["outcome"] == {"type": "success", "pendingToolCallIds": ["call_w"]}
    assert finished["result"]["stop_reason"] == "client tools requested by forecaster"

    # The front end ran the tool: its next run carries the result, and the agent goes on.
    said = {"id": "a1", "role": "assistant", "content": "Let me check.", "toolCalls": [CALL]}
    result = {"id": "t1", "role": "tool", "toolCallId": "call_w", "content": "Sunny, 21 C"}
    events = await post_run(
        served, app, run_input("thread-t", "r2", ask, said, result, tools=[WEATHER])
    )
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Forecast: Sunny, 21 C"
    assert "TOOL_CALL_START" not in types(events) and events[-1]["type"] == "RUN_FINISHED"


async def test_bad_front_end_tools_and_results_are_400s(served: Served) -> None:
    app = app_for(team(), api_keys=[KEY])
    http = await served.http(app)
    auth = {"authorization": f"Bearer {KEY}"}

    async def post(body: dict[str, Any]) -> dict[str, Any]:
        response = await http.post("/v1/ag-ui/support", json=body, headers=auth)
        assert response.status_code == 400, response.text
        error: dict[str, Any] = response.json()["error"]
        return error

    # A front-end tool named like one of the agent's own.
    clash = {"name": "calculator", "description": "Mine.", "parameters": {"type": "object"}}
    error = await post(run_input("thread-b", "r1", user("hi"), tools=[clash]))
    assert error["code"] == "tool_name_conflict" and error["param"] == "tools.0"
    # A result for a call the thread does not wait for.
    result = {"id": "t1", "role": "tool", "toolCallId": "call_x", "content": "?"}
    error = await post(run_input("thread-b", "r2", result))
    assert "call_x" in error["message"]


def both_tools(request: ModelRequest) -> Reply:
    """Calls its own calculator and the front end's weather tool at once, then answers from
    the results and what the user said since."""
    results = [m.content for m in request.messages if isinstance(m, ToolMessage)]
    if not results:
        return ModelResponse(
            content="",
            tool_calls=(
                tool_call("calculator", '{"expression": "6*7"}', id="call_c"),
                tool_call("get_weather", '{"city": "Paris"}', id="call_w"),
            ),
        )
    last = request.messages[-1]
    return f"{'; '.join(results)} | {last.content if isinstance(last, UserMessage) else ''}"


async def test_a_front_end_result_beside_a_new_user_message_and_a_server_tool_result(
    served: Served,
) -> None:
    agent = AssistantAgent("forecaster", FunctionModel(both_tools), tools=[calculator])
    app = app_for(RoundRobinTeam("support", [agent]), api_keys=[KEY])
    ask = user("Weather in Paris?")
    events = await post_run(served, app, run_input("thread-m", "r1", ask, tools=[WEATHER]))
    assert [e["toolCallName"] for e in events if e["type"] == "TOOL_CALL_START"] == [
        "calculator",
        "get_weather",
    ]
    assert [e["toolCallId"] for e in events if e["type"] == "TOOL_CALL_RESULT"] == ["call_c"]
    assert events[-1]["outcome"]["pendingToolCallIds"] == ["call_w"]

    # The thread as HttpAgent keeps it: the server tool's result (from TOOL_CALL_RESULT) is
    # history; the front end's result and a new user message both reach the agent.
    calc = {
        "id": "call_c",
        "type": "function",
        "function": {"name": "calculator", "arguments": "{}"},
    }
    thread = [
        ask,
        {"id": "call_c", "role": "assistant", "toolCalls": [calc]},
        {"id": "call_c:result", "role": "tool", "toolCallId": "call_c", "content": "42"},
        {"id": "call_w", "role": "assistant", "toolCalls": [CALL]},
        {"id": "t1", "role": "tool", "toolCallId": "call_w", "content": "Sunny"},
        user("And tomorrow?", "u2"),
    ]
    events = await post_run(served, app, run_input("thread-m", "r2", *thread, tools=[WEATHER]))
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "42; Sunny | And tomorrow?"
