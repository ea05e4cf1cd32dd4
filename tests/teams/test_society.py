"""Society of mind: an inner team works, a model answers from its work."""

from __future__ import annotations

import pytest

from tests.teams.conftest import Chat, run_team
from troupe.agents import AssistantAgent, UserProxyAgent
from troupe.config import read_teams
from troupe.events import InputRequested, ReasoningDelta, TextDelta, UsageReported
from troupe.messages import Usage
from troupe.models import ModelResponse, ScriptedModel
from troupe.teams import RoundRobinTeam, SocietyOfMindAgent, TextMention

pytestmark = pytest.mark.anyio


def writers() -> RoundRobinTeam:
    return RoundRobinTeam(
        "writers",
        [
            AssistantAgent("writer", ScriptedModel(["A haiku draft.", "Second draft."])),
            AssistantAgent("critic", ScriptedModel(["Shorter please.", "APPROVE"])),
        ],
        termination=TextMention("APPROVE"),
    )


async def test_the_inner_team_works_and_the_model_answers_from_its_work() -> None:
    summarizer = ScriptedModel(
        [
            ModelResponse(
                content="Here is the haiku.", usage=Usage(prompt_tokens=50, completion_tokens=4)
            )
        ]
    )
    poet = SocietyOfMindAgent("poet", writers(), summarizer)
    outer = RoundRobinTeam("studio", [poet])
    result, recorder = await run_team(outer, "Write a haiku")
    # Only the summary joins the conversation, as the agent's message.
    assert [(m.source, m.content) for m in result.state.transcript] == [
        ("user", "Write a haiku"),
        ("poet", "Here is the haiku."),
    ]
    # The model read the instruction, the inner messages in order, then the response prompt.
    asked = summarizer.requests[0].messages
    assert "Here is a transcript" in str(asked[0].content)
    assert [m.source for m in asked[1:-1]] == ["writer", "critic", "writer", "critic"]
    assert "standalone response" in str(asked[-1].content)
    # The inner agents' text is the agent's thinking; the summary is its text.
    thinking = {e.agent for e in recorder.events if isinstance(e, ReasoningDelta)}
    assert thinking == {"writer", "critic"}
    assert {e.agent for e in recorder.events if isinstance(e, TextDelta)} == {"poet"}
    # Every model call counts, the summary's too.
    assert any(isinstance(e, UsageReported) and e.agent == "poet" for e in recorder.events)
    assert result.usage.prompt_tokens >= 50
    # The inner team starts afresh on the next turn, with the whole conversation.
    poet2 = SocietyOfMindAgent("poet", writers(), ScriptedModel(["One.", "Two."]))
    outer2 = RoundRobinTeam("studio", [poet2])
    first, _ = await run_team(outer2, "Write a haiku")
    await run_team(outer2, "Another", first.state)
    writer = poet2.team.by_name["writer"]
    second_view = [str(m.content) for m in writer.model.requests[-1].messages]  # type: ignore[attr-defined]
    assert "Write a haiku" in second_view and "Another" in second_view
    assert "A haiku draft." not in second_view  # not the previous inner run's talk


async def test_over_the_api_the_answer_is_the_summary() -> None:
    poet = SocietyOfMindAgent("poet", writers(), ScriptedModel(["Final haiku."]))
    content, _events = await Chat(RoundRobinTeam("studio", [poet])).say("studio", "haiku")
    assert content == "Final haiku."


async def test_an_inner_question_pauses_and_the_answer_goes_inside() -> None:
    inner = RoundRobinTeam(
        "desk",
        [
            AssistantAgent("clerk", ScriptedModel(["Which city?", "Paris it is. DONE"])),
            UserProxyAgent("traveller", prompt="Which city?"),
        ],
        termination=TextMention("DONE"),
    )
    summarizer = ScriptedModel(["You are going to Paris."])
    agent = SocietyOfMindAgent("planner", inner, summarizer)
    chat = Chat(RoundRobinTeam("trips", [agent]))
    _text, events = await chat.say("trips", "Plan a trip")
    assert [e.agent for e in events if isinstance(e, InputRequested)] == ["traveller"]
    text, _ = await chat.say("trips", "Paris")
    assert text == "You are going to Paris."
    sources = [m.source for m in summarizer.requests[0].messages[1:-1]]
    assert sources == ["clerk", "traveller", "clerk"]


async def test_an_inner_team_that_says_nothing_gives_no_response() -> None:
    silent = RoundRobinTeam("silent", [AssistantAgent("mute", ScriptedModel([""]))])
    agent = SocietyOfMindAgent("som", silent, ScriptedModel([]))  # no model call is made
    result, _ = await run_team(RoundRobinTeam("t", [agent]), "hi")
    assert result.status == "completed"
    assert result.state.transcript[-1].content == "No response."


def test_society_of_mind_in_yaml() -> None:
    _spec, teams = read_teams(
        """
models:
  demo: {provider: demo}
teams:
  writers:
    agents: [{name: writer, model: demo}, {name: critic, model: demo}]
  studio:
    agents:
      - {kind: society_of_mind, name: poet, team: writers, model: demo, response_prompt: "Answer."}
""",
        env={},
    )
    poet = teams["studio"].agents[0]
    assert isinstance(poet, SocietyOfMindAgent)
    assert poet.team is teams["writers"] and poet.response_prompt == "Answer."
