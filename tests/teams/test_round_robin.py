"""Round-robin teams: turn order, termination, max turns, failure leaves state as it was."""

from __future__ import annotations

import pytest

from troupe.agents import AssistantAgent
from troupe.events import Event, RunEnded, RunFailed
from troupe.messages import UserMessage, text_of
from troupe.models import ScriptedModel
from troupe.teams import MaxMessages, RoundRobinTeam, TextMention

pytestmark = pytest.mark.anyio


async def run(team: RoundRobinTeam, text: str, state=None):  # type: ignore[no-untyped-def]
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    state = state or team.new_state("c1")
    result = await team.run(state, [UserMessage(content=text)], emit)
    return result, events


def agent(name: str, *replies: str) -> AssistantAgent:
    return AssistantAgent(name, ScriptedModel(list(replies)))


async def test_text_mention_stops_the_run() -> None:
    team = RoundRobinTeam(
        "t",
        [agent("writer", "draft 1", "draft 2"), agent("critic", "more", "APPROVE")],
        termination=TextMention("APPROVE"),
    )
    result, events = await run(team, "write")
    speakers = [m.source for m in result.state.transcript]
    assert speakers == ["user", "writer", "critic", "writer", "critic"]
    assert result.turns == 4
    assert isinstance(events[-1], RunEnded) and "APPROVE" in events[-1].stop_reason


async def test_text_mention_ignores_the_users_own_words() -> None:
    team = RoundRobinTeam(
        "t", [agent("a", "fine")], termination=TextMention("DONE") | MaxMessages(2)
    )
    result, _ = await run(team, "say DONE when done")
    assert result.turns == 1 and "maximum number of messages 2" in result.stop_reason


async def test_text_mention_only_from_named_sources() -> None:
    team = RoundRobinTeam(
        "t",
        [agent("a", "APPROVE"), agent("b", "APPROVE")],
        termination=TextMention("APPROVE", sources=["b"]),
    )
    result, _ = await run(team, "go")
    assert result.turns == 2 and "by b" in result.stop_reason


async def test_max_turns_and_order_carries_over_between_runs() -> None:
    team = RoundRobinTeam(
        "t", [agent("a", "a1", "a2"), agent("b", "b1", "b2"), agent("c", "c1")], max_turns=2
    )
    first, _ = await run(team, "one")
    assert "maximum number of turns 2" in first.stop_reason
    second, _ = await run(team, "two", first.state)
    speakers = [m.source for m in second.state.transcript if m.source != "user"]
    assert speakers == ["a", "b", "c", "a"]
    assert second.state.usage.total_tokens == first.usage.total_tokens + second.usage.total_tokens


async def test_all_of_waits_for_every_condition() -> None:
    team = RoundRobinTeam(
        "t",
        [agent("a", "yes", "no", "no"), agent("b", "x", "GO", "x")],
        termination=TextMention("yes") & TextMention("GO"),
    )
    result, _ = await run(team, "go")
    assert result.turns == 4


async def test_without_termination_one_round() -> None:
    team = RoundRobinTeam("t", [agent("a", "1"), agent("b", "2")])
    result, _ = await run(team, "go")
    assert result.turns == 2


async def test_a_failing_agent_ends_the_run_with_an_error_and_keeps_the_completed_turns() -> None:
    team = RoundRobinTeam(
        "t", [agent("a", "fine"), agent("b")], max_turns=4
    )  # b has no replies left
    state = team.new_state("c1")
    result, events = await run(team, "go", state)
    assert result.error is not None and result.status == "failed"
    assert [text_of(m) for m in result.state.transcript] == ["go", "fine"]
    assert result.state.run is None
    failed = [e for e in events if isinstance(e, RunFailed)]
    assert len(failed) == 1 and "ScriptedModel 'scripted'" in failed[0].message
    assert isinstance(events[-1], RunEnded) and events[-1].stop_reason.startswith("error:")


async def test_a_failure_in_the_first_turn_leaves_the_conversation_as_it_was() -> None:
    team = RoundRobinTeam("t", [agent("a")])  # no replies at all
    state = team.new_state("c1")
    result, _ = await run(team, "go", state)
    assert result.status == "failed"
    assert result.state == state
