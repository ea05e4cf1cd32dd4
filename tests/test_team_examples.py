"""The example team configs run offline on the demo model, through the openai SDK."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.teams.conftest import Chat, names
from troupe.events import (
    AgentStarted,
    HandoffOccurred,
    InputRequested,
    RunEnded,
    SpeakerSelected,
    ToolCalled,
)
from troupe.server import create_app

pytestmark = pytest.mark.anyio
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("TROUPE_DEMO_DELAY", "0")


async def test_support_swarm_hands_off_and_keeps_the_floor() -> None:
    chat = Chat(app=create_app(EXAMPLES / "support_swarm.yaml"))
    _, events = await chat.say("support", "I want a refund for my order")
    handoffs = [(e.agent, e.target) for e in events if isinstance(e, HandoffOccurred)]
    assert handoffs == [("triage", "refunds"), ("refunds", "user")]
    assert names(events, AgentStarted) == ["triage", "refunds"]
    text, events = await chat.say("support", "Order 1234")
    assert names(events, AgentStarted) == ["refunds"]
    assert "Order 1234" in text


async def test_research_selector_picks_speakers() -> None:
    chat = Chat(app=create_app(EXAMPLES / "research_selector.yaml"))
    _, events = await chat.say("research", "How many seconds are in 3 days? 3*24*3600")
    chosen = [e.agent for e in events if isinstance(e, SpeakerSelected)]
    assert chosen == ["planner", "researcher", "writer"]
    assert any(isinstance(e, ToolCalled) and e.name == "calculator" for e in events)
    assert isinstance(events[-1], RunEnded)


async def test_graph_pipeline_fans_out_and_joins() -> None:
    chat = Chat(app=create_app(EXAMPLES / "graph_pipeline.yaml"))
    _, events = await chat.say("pipeline", "tea")
    started = names(events, AgentStarted)
    assert started[0] == "outliner" and started[-1] == "editor"
    assert sorted(started[1:3]) == ["body_writer", "intro_writer"]
    assert isinstance(events[-1], RunEnded) and events[-1].stop_reason == "graph team finished"


async def test_writer_critic_pauses_for_the_human() -> None:
    chat = Chat(app=create_app(EXAMPLES / "writer_critic.yaml"))
    _, events = await chat.say("review", "A slogan for tea")
    assert names(events, AgentStarted) == ["writer", "critic"]
    assert [e.agent for e in events if isinstance(e, InputRequested)] == ["you"]
    _, events = await chat.say("review", "APPROVE")
    assert isinstance(events[-1], RunEnded) and "mentioned by you" in events[-1].stop_reason
