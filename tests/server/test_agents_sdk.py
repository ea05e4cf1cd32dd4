"""The OpenAI Agents SDK with a troupe team as its model (Responses and chat completions):
an Agents SDK ``@function_tool`` that the team's agent calls runs on the SDK's side."""

from __future__ import annotations

from typing import Any

import pytest
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)

from tests.server.conftest import app_for
from troupe.agents import AssistantAgent
from troupe.messages import ToolMessage
from troupe.models import FunctionModel, ModelRequest, ModelResponse, tool_call
from troupe.models.testing import Reply
from troupe.teams import RoundRobinTeam

pytestmark = pytest.mark.anyio

ran: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    ran.append(city)
    return f"hail in {city}"


def forecaster(request: ModelRequest) -> Reply:
    if isinstance(request.messages[-1], ToolMessage):
        return "Forecast: " + request.messages[-1].content
    assert [tool.name for tool in request.tools] == ["get_weather"]
    return ModelResponse(tool_calls=(tool_call("get_weather", '{"city": "Bergen"}'),))


@pytest.fixture(autouse=True)
def no_tracing() -> None:
    set_tracing_disabled(True)
    ran.clear()


@pytest.mark.parametrize("kind", ["responses", "chat"])
async def test_an_agents_sdk_function_tool_runs_on_the_sdk_side(
    make_client: Any, kind: str
) -> None:
    team = RoundRobinTeam("weather", [AssistantAgent("forecaster", FunctionModel(forecaster))])
    client = await make_client(app_for(team))
    model = (
        OpenAIResponsesModel(model="weather", openai_client=client)
        if kind == "responses"
        else OpenAIChatCompletionsModel(model="weather", openai_client=client)
    )
    agent = Agent(name="assistant", model=model, tools=[get_weather])
    result = await Runner.run(agent, "What is the weather in Bergen?")
    assert ran == ["Bergen"]
    assert result.final_output == "Forecast: hail in Bergen"


async def test_the_agents_sdk_streams_a_team_with_its_extension_events(make_client: Any) -> None:
    team = RoundRobinTeam("weather", [AssistantAgent("forecaster", FunctionModel(forecaster))])
    client = await make_client(app_for(team))
    model = OpenAIResponsesModel(model="weather", openai_client=client)
    agent = Agent(name="assistant", model=model, tools=[get_weather])
    result = Runner.run_streamed(agent, "What is the weather in Bergen?")
    kinds = [event.type async for event in result.stream_events()]
    assert "raw_response_event" in kinds
    assert result.final_output == "Forecast: hail in Bergen"
