"""Swarm: handoffs move the floor, it persists across requests, a handoff to the user pauses."""

from __future__ import annotations

import msgspec
import pytest

from tests.teams.conftest import Chat, names, run_team, speakers
from troupe.agents import AssistantAgent, Handoff
from troupe.errors import ConfigError
from troupe.events import AgentStarted, HandoffOccurred, InputRequested, RunEnded
from troupe.models import ModelRequest, ScriptedModel, tool_call
from troupe.server import InMemoryConversationStore, create_app
from troupe.teams import RunState, SwarmTeam

pytestmark = pytest.mark.anyio


def support_team() -> SwarmTeam:
    triage = AssistantAgent(
        "triage",
        ScriptedModel([tool_call("transfer_to_billing")]),
        handoffs=["billing", "user"],
    )
    billing = AssistantAgent(
        "billing",
        ScriptedModel(
            [
                "What is your invoice number?",
                tool_call("transfer_to_user"),
                "Invoice 42 is refunded.",
            ]
        ),
        handoffs=[Handoff(target="triage"), "user"],
    )
    return SwarmTeam("support", [triage, billing])


async def test_handoff_moves_the_floor_and_the_speaker_answers() -> None:
    team = support_team()
    result, recorder = await run_team(team, "I was charged twice")
    # triage: its tool call, the tool result, the transfer message; then billing answers.
    assert speakers(result.state) == ["user", "triage", "triage", "triage", "billing"]
    assert result.state.current_speaker == "billing"
    (handoff,) = [e for e in recorder.events if isinstance(e, HandoffOccurred)]
    assert (handoff.agent, handoff.target) == ("triage", "billing")
    assert result.stop_reason == "swarm team finished"


async def test_the_floor_persists_and_a_handoff_to_the_user_pauses_over_http() -> None:
    chat = Chat(support_team())
    text, events = await chat.say("support", "I was charged twice")
    assert names(events, AgentStarted) == ["triage", "billing"]
    assert text.endswith("What is your invoice number?")
    # The next message goes to billing, who had the floor, and it hands off to the user.
    text, events = await chat.say("support", "It's about my invoice")
    assert names(events, AgentStarted) == ["billing"]
    (asked,) = [e for e in events if isinstance(e, InputRequested)]
    assert asked.agent == "billing"
    run_end = events[-1]
    assert isinstance(run_end, RunEnded) and run_end.stop_reason == "input requested by billing"
    # The answer goes back to the agent that asked.
    text, events = await chat.say("support", "Invoice 42")
    assert names(events, AgentStarted) == ["billing"]
    assert text == "**billing:** Invoice 42 is refunded."


async def test_paused_state_resumes_in_a_fresh_app_from_its_encoding() -> None:
    first_store = InMemoryConversationStore()
    chat = Chat(app=create_app(teams=[support_team()], store=first_store))
    await chat.say("support", "charged twice")
    await chat.say("support", "my invoice")
    assert chat.conversation_id is not None
    state = await first_store.load(chat.conversation_id)
    assert state is not None and state.pending_input is not None
    encoded = msgspec.json.encode(state)

    second_store = InMemoryConversationStore()
    await second_store.save(msgspec.json.decode(encoded, type=RunState))
    # A new app, new team objects: only the encoded state carries the conversation.
    fresh_team = support_team()
    fresh_team.by_name["billing"].model._next = 2  # type: ignore[attr-defined]  # its script resumes
    fresh = Chat(app=create_app(teams=[fresh_team], store=second_store))
    fresh.conversation_id = chat.conversation_id
    text, events = await fresh.say("support", "Invoice 42")
    assert names(events, AgentStarted) == ["billing"]
    assert "Invoice 42 is refunded." in text


def test_config_errors() -> None:
    lonely = AssistantAgent("a", ScriptedModel([]))
    with pytest.raises(ConfigError, match="cannot hand off"):
        SwarmTeam("s", [lonely, AssistantAgent("b", ScriptedModel([]))])
    with pytest.raises(ConfigError, match="handoff to unknown agent 'nobody'"):
        SwarmTeam("s", [AssistantAgent("a", ScriptedModel([]), handoffs=["nobody"])])


async def test_handoff_tools_are_offered_to_the_model() -> None:
    model = ScriptedModel(["hi"])
    team = SwarmTeam(
        "s", [AssistantAgent("a", model, handoffs=["b"]), AssistantAgent("b", ScriptedModel([]))]
    )
    await run_team(team, "hello")
    request: ModelRequest = model.requests[0]
    assert [t.name for t in request.tools] == ["transfer_to_b"]
    assert request.tools[0].parameters["additionalProperties"] is False
