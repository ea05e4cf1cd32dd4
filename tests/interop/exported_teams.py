"""Teams defined in Python, for ``troupe export`` to write as YAML."""

from __future__ import annotations

from troupe.agents import AssistantAgent, Handoff, UserProxyAgent
from troupe.messages import Message, text_of
from troupe.models import ScriptedModel
from troupe.models.openai import OpenAIModel
from troupe.teams import (
    Edge,
    GraphTeam,
    MaxMessages,
    SelectorTeam,
    TeamAgent,
    TextMention,
    TokenUsage,
)
from troupe.tools import FunctionTool

GPT = OpenAIModel(
    "gpt-4o-mini", api_key="sk-never-written-1234567890abcdef", settings={"temperature": 0.2}
)


def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


def approved(message: Message | None) -> bool:
    return message is not None and "OK" in text_of(message)


def pick(history: object) -> str | None:
    return None


def review_team() -> GraphTeam:
    writer = AssistantAgent(
        "writer", GPT, system_message="Write.", tools=[FunctionTool(word_count)]
    )
    editor = AssistantAgent(
        "editor", GPT, handoffs=[Handoff(target="writer", message="Back to you.")]
    )
    return GraphTeam(
        "review",
        [writer, editor],
        [
            Edge("writer", "editor"),
            Edge("editor", "writer", "REVISE"),
            Edge("editor", "writer", approved),
        ],
        entry=["writer"],
        termination=MaxMessages(8),
    )


def all_teams() -> list[object]:
    review = review_team()
    lead = SelectorTeam(
        "lead",
        [TeamAgent(review), UserProxyAgent("human", prompt="Your call?")],
        model=GPT,
        selector_func=pick,
        termination=(TextMention("DONE") & MaxMessages(3)) | TokenUsage(max_total_tokens=9000),
    )
    scripted = SelectorTeam(
        "scripted",
        [AssistantAgent("a", ScriptedModel([])), AssistantAgent("b", ScriptedModel([]))],
        model=GPT,
    )
    return [lead, scripted]
