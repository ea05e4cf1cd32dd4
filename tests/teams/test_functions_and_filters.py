"""Functions named in YAML (termination, selector, edge conditions), activation groups
and per-agent message filters."""

from __future__ import annotations

import pytest

from tests.teams.conftest import names, run_team
from troupe.agents import AssistantAgent, FilteredAgent, MessageFilter
from troupe.config import read_teams
from troupe.errors import ConfigError
from troupe.events import AgentStarted
from troupe.models import ScriptedModel
from troupe.teams import Edge, GraphTeam, RoundRobinTeam

pytestmark = pytest.mark.anyio

CONFIG = """
models:
  demo: {provider: demo}
teams:
  t:
    kind: selector
    selector: {selector_func: "tests.teams.funcs:pick_critic"}
    agents: [{name: writer, model: demo}, {name: critic, model: demo}]
    termination: {function: "tests.teams.funcs:three_messages"}
"""


async def test_termination_and_selector_functions_by_import_path() -> None:
    _spec, teams = read_teams(CONFIG, env={})
    result, recorder = await run_team(teams["t"], "go")
    assert result.stop_reason == "function three_messages returned true"
    assert names(recorder.events, AgentStarted) == ["critic", "writer"]


def test_a_bad_termination_function_is_reported_at_its_path() -> None:
    for ref, expected in [
        ("tests.teams.funcs:nope", "nope"),
        ("tests.teams.funcs:async_check", "is async"),
    ]:
        with pytest.raises(ConfigError) as caught:
            read_teams(CONFIG.replace("tests.teams.funcs:three_messages", ref), env={})
        (issue,) = caught.value.issues
        assert issue.path == "$.teams.t.termination.function", issue
        assert expected in issue.message


def routed_graph(route: str) -> GraphTeam:
    def agent(name: str, reply: str) -> AssistantAgent:
        return AssistantAgent(name, ScriptedModel([reply]))

    return GraphTeam(
        "g",
        [
            agent("router", route),
            agent("left", "L"),
            agent("right", "R"),
            agent("solo", "S"),
            agent("merge", "M"),
        ],
        [
            Edge("router", "left", "parallel"),
            Edge("router", "right", "parallel"),
            Edge("router", "solo", "single"),
            Edge("left", "merge", group="pair"),
            Edge("right", "merge", group="pair"),
            Edge("solo", "merge", group="alone"),
        ],
    )


@pytest.mark.parametrize(
    ("route", "order"),
    [("parallel", ["router", "left", "right", "merge"]), ("single", ["router", "solo", "merge"])],
)
async def test_activation_groups_join_each_group_apart(route: str, order: list[str]) -> None:
    result, recorder = await run_team(routed_graph(route), "go")
    assert names(recorder.events, AgentStarted) == order
    assert result.stop_reason == "graph team finished"


async def test_without_groups_the_join_waits_for_every_parent() -> None:
    graph = routed_graph("single")
    plain = GraphTeam(
        "g", graph.agents, [Edge(e.source, e.target, e.condition) for e in graph.edges]
    )
    _result, recorder = await run_team(plain, "go")
    assert names(recorder.events, AgentStarted) == ["router", "solo"]  # merge never runs


async def test_any_activation_on_an_edge() -> None:
    graph = routed_graph("parallel")
    edges = [
        Edge(e.source, e.target, e.condition, activation="any" if e.target == "merge" else None)
        for e in graph.edges
    ]
    _result, recorder = await run_team(GraphTeam("g", graph.agents, edges), "go")
    # left and right run together; merge runs once, after the first of them.
    assert names(recorder.events, AgentStarted) == ["router", "left", "right", "merge"]


def test_edge_groups_and_conditions_in_yaml() -> None:
    _spec, teams = read_teams(
        """
models:
  demo: {provider: demo}
teams:
  g:
    kind: graph
    agents: [{name: a, model: demo}, {name: b, model: demo}, {name: c, model: demo}]
    edges:
      - {from: a, to: b, when_func: "tests.teams.funcs:says_ok", group: approved, activation: any}
      - {from: a, to: c, when: REJECT}
""",
        env={},
    )
    graph = teams["g"]
    assert isinstance(graph, GraphTeam)
    first = graph.edges[0]
    assert (first.group, first.activation, callable(first.condition)) == ("approved", "any", True)


async def test_a_message_filter_shows_the_first_or_last_messages_per_source() -> None:
    writer = AssistantAgent("writer", ScriptedModel(["draft 1", "draft 2", "draft 3"]))
    reader_model = ScriptedModel(["seen"] * 3)
    reader = FilteredAgent(
        AssistantAgent("reader", reader_model),
        [
            MessageFilter(source="user", position="first", count=1),
            MessageFilter(source="writer", position="last", count=1),
        ],
    )
    team = RoundRobinTeam("t", [writer, reader])
    state = None
    for text in ("task", "more", "again"):
        result, _ = await run_team(team, text, state)
        state = result.state
    last = [(m.source, m.content) for m in reader_model.requests[-1].messages[1:]]
    assert last == [("user", "task"), ("writer", "draft 3")]


def test_message_filter_in_yaml() -> None:
    _spec, teams = read_teams(
        """
models:
  demo: {provider: demo}
teams:
  t:
    agents:
      - {name: writer, model: demo}
      - name: reader
        model: demo
        message_filter: [{source: writer, position: last, count: 2}]
""",
        env={},
    )
    reader = teams["t"].agents[1]
    assert isinstance(reader, FilteredAgent)
    assert reader.filters == (MessageFilter(source="writer", position="last", count=2),)
    # AutoGen's shape, as `troupe import autogen` writes it.
    _spec, teams = read_teams(
        """
models:
  demo: {provider: demo}
teams:
  t:
    agents:
      - {name: writer, model: demo}
      - name: reader
        model: demo
        message_filter: {per_source: [{source: writer, position: null, count: 1}]}
""",
        env={},
    )
    reader = teams["t"].agents[1]
    assert isinstance(reader, FilteredAgent)
    assert reader.filters == (MessageFilter(source="writer", position=None, count=1),)
    assert reader.model is not None  # the wrapped agent's model is still found
