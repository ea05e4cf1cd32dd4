"""A nested team that asks the human resumes inside itself when the human answers."""

from __future__ import annotations

import pytest

from tests.teams.conftest import Chat, names
from troupe.agents import AssistantAgent, UserProxyAgent
from troupe.events import AgentStarted, InputRequested, RunEnded
from troupe.messages import UserMessage, text_of
from troupe.models import ScriptedModel
from troupe.teams import Edge, GraphTeam, RoundRobinTeam, TeamAgent, TextMention

pytestmark = pytest.mark.anyio


def desk() -> RoundRobinTeam:
    return RoundRobinTeam(
        "desk",
        [
            AssistantAgent("clerk", ScriptedModel(["What name?", "Booked for Ann."])),
            UserProxyAgent("customer", prompt="Your name?"),
        ],
        termination=TextMention("Booked"),
    )


async def test_the_answer_goes_to_the_inner_user_proxy_and_the_inner_team_goes_on() -> None:
    lead = AssistantAgent("lead", ScriptedModel(["Book a room."]))
    front = RoundRobinTeam("front", [lead, TeamAgent(desk())], termination=TextMention("Booked"))
    chat = Chat(front)
    text, events = await chat.say("front", "I need a room")
    # One question, from the agent that asked it, with its prompt.
    asked = [e for e in events if isinstance(e, InputRequested)]
    assert [(e.agent, e.prompt, e.kind) for e in asked] == [("customer", "Your name?", "proxy")]
    assert text.endswith("Your name?")
    text, events = await chat.say("front", "Ann")
    # The inner team resumed: its clerk spoke next, not the outer lead.
    assert names(events, AgentStarted) == ["clerk"]
    (ended,) = [e for e in events if isinstance(e, RunEnded)]
    assert ended.stop_reason == "text 'Booked' mentioned by clerk"
    assert "Booked for Ann." in text


async def test_in_a_graph_the_nested_team_takes_the_answer_before_the_edges_fire() -> None:
    after = AssistantAgent("closer", ScriptedModel(["Enjoy your stay."]))
    graph = GraphTeam("flow", [TeamAgent(desk()), after], [Edge("desk", "closer")])
    chat = Chat(graph)
    await chat.say("flow", "A room please")
    text, events = await chat.say("flow", "Ann")
    assert names(events, AgentStarted) == ["clerk", "closer"]
    assert "Enjoy your stay." in text


async def test_the_inner_transcript_has_the_answer_as_the_proxys_message() -> None:
    lead = AssistantAgent("lead", ScriptedModel(["Book a room."]))
    front = RoundRobinTeam("front", [lead, TeamAgent(desk())], termination=TextMention("Booked"))
    state = front.new_state("c")

    async def drop(event: object) -> None:
        return None

    first = await front.run(state, [UserMessage(content="room")], drop)
    assert first.status == "requires_input"
    second = await front.run(first.state, [UserMessage(content="Ann")], drop)
    inner = second.state.inner["desk"].inner  # type: ignore[attr-defined]
    assert ("customer", "Ann") in [(m.source, text_of(m)) for m in inner.transcript]
