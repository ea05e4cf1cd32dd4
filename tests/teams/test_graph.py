"""Graph: chains, conditional edges, parallel fan-out with joins, loops, validation."""

from __future__ import annotations

import anyio
import pytest

from tests.teams.conftest import run_team, speakers
from troupe.agents import AssistantAgent
from troupe.errors import ConfigError
from troupe.events import AgentStarted, TextDelta
from troupe.messages import Message
from troupe.models import FunctionModel, ModelRequest, ScriptedModel
from troupe.teams import Edge, GraphTeam

pytestmark = pytest.mark.anyio


def agent(name: str, *replies: str) -> AssistantAgent:
    return AssistantAgent(name, ScriptedModel(list(replies) or [f"{name} done"] * 5))


async def test_a_chain_runs_in_order_and_ends() -> None:
    team = GraphTeam("g", [agent("a"), agent("b"), agent("c")], [Edge("a", "b"), Edge("b", "c")])
    result, _ = await run_team(team, "go")
    assert speakers(result.state) == ["user", "a", "b", "c"]
    assert result.stop_reason == "graph team finished"
    # A new request starts again at the entry.
    again, _ = await run_team(team, "again", result.state)
    assert speakers(again.state)[4:] == ["user", "a", "b", "c"]


async def test_conditional_edges_on_text_and_predicates() -> None:
    def is_short(message: Message | None) -> bool:
        return message is not None and len(str(message.content)) < 5

    team = GraphTeam(
        "g",
        [agent("judge", "REJECT it"), agent("yes"), agent("no"), agent("tiny")],
        [
            Edge("judge", "yes", "APPROVE"),
            Edge("judge", "no", "REJECT"),
            Edge("no", "tiny", is_short),
        ],
    )
    result, _ = await run_team(team, "go")
    assert speakers(result.state) == ["user", "judge", "no"]  # "no done" is not short


async def test_parallel_branches_run_concurrently_and_join() -> None:
    both_started = anyio.Event()
    started: list[str] = []

    def branch(name: str) -> FunctionModel:
        async def reply(request: ModelRequest) -> str:
            started.append(name)
            if len(started) == 2:
                both_started.set()
            with anyio.fail_after(5):
                await both_started.wait()  # deadlocks unless the branches really run at once
            return f"{name} result"

        return FunctionModel(reply, delay=0.001)

    join_model = ScriptedModel(["joined"])
    team = GraphTeam(
        "g",
        [
            agent("split"),
            AssistantAgent("left", branch("left")),
            AssistantAgent("right", branch("right")),
            AssistantAgent("join", join_model),
        ],
        [
            Edge("split", "left"),
            Edge("split", "right"),
            Edge("left", "join"),
            Edge("right", "join"),
        ],
    )
    result, recorder = await run_team(team, "go")
    assert sorted(started) == ["left", "right"]
    assert speakers(result.state) == ["user", "split", "left", "right", "join"]
    # The join ran once, after both branches, and saw both results.
    seen = [m.content for m in join_model.requests[0].messages]
    assert "left result" in seen and "right result" in seen
    # Interleaved text stays attributable: every delta names its agent and message.
    starts = {e.message_id: e.agent for e in recorder.events if isinstance(e, AgentStarted)}
    deltas = [e for e in recorder.events if isinstance(e, TextDelta)]
    assert all(starts[d.message_id] == d.agent for d in deltas)
    left = "".join(d.text for d in deltas if d.agent == "left")
    assert left == "left result"


async def test_join_any_runs_on_the_first_parent() -> None:
    team = GraphTeam(
        "g",
        [agent("split"), agent("fast"), agent("slow"), agent("join")],
        [
            Edge("split", "fast"),
            Edge("split", "slow", "NEVER"),
            Edge("fast", "join"),
            Edge("slow", "join"),
        ],
        activation={"join": "any"},
    )
    result, _ = await run_team(team, "go")
    assert speakers(result.state) == ["user", "split", "fast", "join"]


async def test_a_loop_runs_until_its_exit_condition() -> None:
    team = GraphTeam(
        "g",
        [
            agent("writer", "draft 1", "draft 2", "draft 3"),
            agent("critic", "again", "again", "APPROVE"),
            agent("publish"),
        ],
        [
            Edge("writer", "critic"),
            Edge("critic", "writer", lambda m: m is not None and "APPROVE" not in str(m.content)),
            Edge("critic", "publish", "APPROVE"),
        ],
        entry=["writer"],
    )
    result, _ = await run_team(team, "go")
    assert speakers(result.state)[1:] == ["writer", "critic"] * 3 + ["publish"]


def test_validation() -> None:
    a, b, c = agent("a"), agent("b"), agent("c")
    with pytest.raises(ConfigError, match="unknown agent 'x'"):
        GraphTeam("g", [a, b], [Edge("a", "x")])
    with pytest.raises(ConfigError, match="has no entry"):
        GraphTeam("g", [a, b], [Edge("a", "b"), Edge("b", "a")])
    with pytest.raises(ConfigError, match="'c' cannot be reached"):
        GraphTeam("g", [a, b, c], [Edge("a", "b")], entry=["a"])
    with pytest.raises(ConfigError, match="has no exit condition"):
        GraphTeam("g", [a, b, c], [Edge("a", "b"), Edge("b", "c"), Edge("c", "b")])
