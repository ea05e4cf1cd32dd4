"""Selector: a model or a function picks the next speaker; retries; usage counts."""

from __future__ import annotations

import pytest

from tests.teams.conftest import run_team
from troupe.agents import AssistantAgent
from troupe.errors import ConfigError
from troupe.events import SpeakerSelected, UsageReported
from troupe.messages import Usage
from troupe.models import ModelResponse, ScriptedModel
from troupe.teams import MaxMessages, SelectorTeam

pytestmark = pytest.mark.anyio


def agents() -> list[AssistantAgent]:
    return [
        AssistantAgent("planner", ScriptedModel(["plan"] * 5), description="Plans the work."),
        AssistantAgent("coder", ScriptedModel(["code"] * 5), description="Writes code."),
        AssistantAgent("tester", ScriptedModel(["tests"] * 5), description="Tests code."),
    ]


async def test_the_model_picks_and_its_tokens_count() -> None:
    selector = ScriptedModel(
        [
            ModelResponse(content="coder", usage=Usage(prompt_tokens=100, completion_tokens=1)),
            ModelResponse(content="tester", usage=Usage(prompt_tokens=120, completion_tokens=1)),
        ]
    )
    team = SelectorTeam("dev", agents(), model=selector, termination=MaxMessages(3))
    result, recorder = await run_team(team, "build a thing")
    chosen = [e.agent for e in recorder.events if isinstance(e, SpeakerSelected)]
    assert chosen == ["coder", "tester"]
    selector_usage = [
        e.usage
        for e in recorder.events
        if isinstance(e, UsageReported) and e.agent == "dev.selector"
    ]
    assert [u.prompt_tokens for u in selector_usage] == [100, 120]
    agent_tokens = sum(
        m.usage.total_tokens for m in result.state.transcript if getattr(m, "usage", None)
    )
    assert result.usage.total_tokens == agent_tokens + 222
    # The prompt lists the candidates with their descriptions and the history.
    prompt = selector.requests[0].messages[0].content
    assert "coder: Writes code." in prompt and "user: build a thing" in prompt


async def test_invalid_answers_are_retried_then_fall_back() -> None:
    selector = ScriptedModel(["nobody", "coder", "hmm", "both planner and tester", "?"])
    team = SelectorTeam(
        "dev", agents(), model=selector, termination=MaxMessages(3), max_selector_attempts=2
    )
    _result, recorder = await run_team(team, "go")
    chosen = [(e.agent, e.reason) for e in recorder.events if isinstance(e, SpeakerSelected)]
    assert chosen[0] == ("coder", "selected by the model")
    # Second pick: two bad answers, then the fallback is the previous speaker... which may not repeat,
    # so the first candidate speaks.
    assert chosen[1][1] == "fallback after 2 attempts"
    feedback = selector.requests[1].messages[-1].content
    assert "Name exactly one of" in feedback


async def test_no_repeated_speaker_unless_allowed() -> None:
    selector = ScriptedModel(["planner"] * 4)
    team = SelectorTeam("dev", agents(), model=selector, termination=MaxMessages(3))
    _, recorder = await run_team(team, "go")
    chosen = [e.agent for e in recorder.events if isinstance(e, SpeakerSelected)]
    assert chosen == ["planner", "coder"]  # planner may not speak twice in a row
    assert "['coder', 'tester']" in selector.requests[1].messages[0].content
    allowed = SelectorTeam(
        "dev",
        agents(),
        model=ScriptedModel(["planner"] * 2),
        allow_repeated_speaker=True,
        termination=MaxMessages(3),
    )
    _, recorder = await run_team(allowed, "go")
    assert [e.agent for e in recorder.events if isinstance(e, SpeakerSelected)] == [
        "planner",
        "planner",
    ]


async def test_selector_and_candidate_functions() -> None:
    def selector_func(history):  # type: ignore[no-untyped-def]
        return "tester" if len(history) > 1 else None

    async def candidate_func(history):  # type: ignore[no-untyped-def]
        return ["coder"]

    team = SelectorTeam(
        "dev",
        agents(),
        selector_func=selector_func,
        candidate_func=candidate_func,
        termination=MaxMessages(3),
    )
    result, _ = await run_team(team, "go")
    assert [m.source for m in result.state.transcript] == ["user", "coder", "tester"]


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="at least two agents"):
        SelectorTeam("s", agents()[:1], model=ScriptedModel([]))
    with pytest.raises(ConfigError, match="needs a model or a selector_func"):
        SelectorTeam("s", agents())
