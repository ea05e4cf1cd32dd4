"""AssistantAgent: streaming, tools run concurrently, errors become results, reflection."""

from __future__ import annotations

import anyio
import pytest

from troupe.agents import AgentTurn, AssistantAgent
from troupe.events import Event, TextDelta, ToolCalled, ToolResultReturned
from troupe.messages import AssistantMessage, ToolMessage, UserMessage
from troupe.models import ScriptedModel, tool_call
from troupe.tools import function_tool

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


def turn(text: str) -> AgentTurn:
    return AgentTurn(transcript=(UserMessage(content=text),))


async def test_text_streams_in_pieces_and_becomes_the_message() -> None:
    agent = AssistantAgent("bot", ScriptedModel(["Hello there, friend."]))
    recorder = Recorder()
    outcome = await agent.run(turn("hi"), recorder)
    assert [e.text for e in recorder.of(TextDelta)] == ["Hello ", "there, ", "friend."]
    assert outcome.messages == (
        AssistantMessage(
            content="Hello there, friend.", source="bot", usage=outcome.messages[0].usage
        ),
    )  # type: ignore[union-attr]
    assert outcome.usage.total_tokens > 0


async def test_tool_calls_run_concurrently_and_results_keep_call_order() -> None:
    started: list[str] = []
    both_running = anyio.Event()

    async def slow(name: str) -> str:
        """Wait until both calls run."""
        started.append(name)
        if len(started) == 2:
            both_running.set()
        with anyio.fail_after(2):
            await both_running.wait()
        return f"done {name}"

    model = ScriptedModel(
        [
            [
                tool_call("slow", '{"name": "a"}', id="1"),
                tool_call("slow", '{"name": "b"}', id="2"),
            ],
            "Both done.",
        ]
    )
    agent = AssistantAgent("bot", model, tools=[function_tool(slow)])
    recorder = Recorder()
    outcome = await agent.run(turn("go"), recorder)
    results = [m for m in outcome.messages if isinstance(m, ToolMessage)]
    assert [(r.call_id, r.content) for r in results] == [("1", "done a"), ("2", "done b")]
    assert [e.call_id for e in recorder.of(ToolCalled)] == ["1", "2"]
    assert outcome.messages[-1].content == "Both done."  # type: ignore[union-attr]
    # The model got the results back, attached to its own calls.
    second = model.requests[1].messages
    assert isinstance(second[-1], ToolMessage) and second[-1].call_id == "2"


async def test_a_tool_that_raises_gives_the_model_an_error_result() -> None:
    def broken() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    model = ScriptedModel([tool_call("broken"), "Sorry, the tool failed."])
    agent = AssistantAgent("bot", model, tools=[function_tool(broken)])
    recorder = Recorder()
    outcome = await agent.run(turn("go"), recorder)
    (result,) = recorder.of(ToolResultReturned)
    assert result.is_error and "disk on fire" in result.content
    assert outcome.messages[-1].content == "Sorry, the tool failed."  # type: ignore[union-attr]


async def test_unknown_tool_is_an_error_result_not_a_crash() -> None:
    model = ScriptedModel([tool_call("nope"), "ok"])
    agent = AssistantAgent("bot", model)
    recorder = Recorder()
    await agent.run(turn("go"), recorder)
    (result,) = recorder.of(ToolResultReturned)
    assert result.is_error and "unknown tool 'nope'" in result.content


async def test_max_tool_iterations_then_reflection_without_tools() -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    model = ScriptedModel([tool_call("ping"), tool_call("ping"), "Two pongs."])
    agent = AssistantAgent("bot", model, tools=[function_tool(ping)], max_tool_iterations=2)
    recorder = Recorder()
    outcome = await agent.run(turn("go"), recorder)
    assert len(recorder.of(ToolCalled)) == 2
    assert model.requests[-1].tool_choice == "none"
    assert outcome.messages[-1].content == "Two pongs."  # type: ignore[union-attr]


async def test_without_reflection_the_turn_ends_with_a_tool_summary() -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    model = ScriptedModel([tool_call("ping", id="c1")])
    agent = AssistantAgent(
        "bot",
        model,
        tools=[function_tool(ping)],
        reflect_on_tool_use=False,
        tool_call_summary_format="{tool_name} -> {result}",
    )
    recorder = Recorder()
    outcome = await agent.run(turn("go"), recorder)
    assert outcome.messages[-1].content == "ping -> pong"  # type: ignore[union-attr]
    assert "".join(e.text for e in recorder.of(TextDelta)) == "ping -> pong"
    assert model.remaining == 0


async def test_other_agents_are_seen_as_users_without_their_tool_traffic() -> None:
    model = ScriptedModel(["ok"])
    agent = AssistantAgent("critic", model, system_message="Review.")
    transcript = (
        UserMessage(content="task"),
        AssistantMessage(content="", source="writer", tool_calls=(tool_call("x", id="w1"),)),
        ToolMessage(call_id="w1", name="x", content="secret", source="writer"),
        AssistantMessage(content="draft", source="writer"),
    )
    await agent.run(AgentTurn(transcript=transcript), Recorder())
    seen = model.requests[0].messages
    assert [type(m).__name__ for m in seen] == ["SystemMessage", "UserMessage", "UserMessage"]
    assert seen[2].content == "draft" and seen[2].source == "writer"  # type: ignore[union-attr]
