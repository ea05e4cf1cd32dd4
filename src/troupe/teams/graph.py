"""Graph: agents as the nodes of a directed graph.

A run starts at the entry nodes (those without incoming edges, unless named).
After a node speaks, each of its outgoing edges fires if its condition holds
on the node's message (a text it must contain, or a Python predicate); a
target runs when its edges have fired: ``all`` its parents (a join, the
default) or ``any`` of them. Nodes that are ready together run concurrently,
and their events stay attributable by agent and message id. Loops are edges
back to an earlier node; every loop needs a conditional edge to leave it. The
run ends when no node is ready.
"""

from __future__ import annotations

__all__ = ["Edge", "GraphTeam"]

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from troupe.agents import Agent, AgentOutcome
from troupe.errors import ConfigError, ConfigIssue
from troupe.messages import AssistantMessage, Message, text_of
from troupe.teams._base import RunContext, Team
from troupe.teams._state import GraphProgress, PendingInput, RunState
from troupe.teams.termination import TerminationCondition

Activation = Literal["all", "any"]
Predicate = Callable[[Message | None], bool]


@dataclass(frozen=True)
class Edge:
    """``source`` → ``target``, taken when ``condition`` holds (always, when None).

    ``group`` (GraphFlow's activation group): the target runs when ``all`` (or ``any``,
    ``activation``) of the edges of one of its groups have fired; the groups of a
    node are independent, e.g. a join of the first pass and a loop's way back.
    """

    source: str
    target: str
    condition: str | Predicate | None = None
    group: str | None = None
    activation: Activation | None = None

    def fires(self, message: Message | None) -> bool:
        if self.condition is None:
            return True
        if isinstance(self.condition, str):
            return message is not None and self.condition in text_of(message)
        return bool(self.condition(message))


class GraphTeam(Team):
    kind = "graph"

    def __init__(
        self,
        name: str,
        agents: Sequence[Agent],
        edges: Sequence[Edge],
        *,
        entry: Sequence[str] | None = None,
        activation: Mapping[str, Activation] | None = None,
        description: str = "",
        termination: TerminationCondition | None = None,
        max_turns: int | None = None,
        answer_agents: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            name,
            agents,
            description=description,
            termination=termination,
            max_turns=max_turns or DEFAULT_GRAPH_TURNS,
            answer_agents=answer_agents,
        )
        self.edges = tuple(edges)
        self.activation = dict(activation or {})
        issues = self._check_names()
        if issues:
            raise ConfigError(issues)
        has_parent = {edge.target for edge in self.edges}
        self.entry = (
            tuple(entry)
            if entry
            else tuple(a.name for a in self.agents if a.name not in has_parent)
        )
        self.outgoing: dict[str, list[Edge]] = {a.name: [] for a in self.agents}
        for edge in self.edges:
            self.outgoing[edge.source].append(edge)
        self.back_edges = self._back_edges()
        # A join waits for the sources of its forward edges; a loop's back edge wakes it alone.
        self.parents: dict[str, frozenset[str]] = {
            node: frozenset(
                e.source
                for e in self.edges
                if e.target == node and e not in self.back_edges and e.group is None
            )
            for node in self.by_name
        }
        # Edges in named groups wait for the sources of their group.
        self.groups: dict[str, frozenset[str]] = {}
        for edge in self.edges:
            if edge.group is not None:
                key = _group_key(edge)
                self.groups[key] = self.groups.get(key, frozenset()) | {edge.source}
        issues = self._check_shape()
        if issues:
            raise ConfigError(issues)

    def _check_names(self) -> list[ConfigIssue]:
        issues = []
        for index, edge in enumerate(self.edges):
            for end in (edge.source, edge.target):
                if end not in self.by_name:
                    issues.append(
                        ConfigIssue(f"$.edges[{index}]", f"edge to or from unknown agent {end!r}")
                    )
        for node in self.activation:
            if node not in self.by_name:
                issues.append(ConfigIssue("$.activation", f"unknown agent {node!r}"))
        return issues

    def _back_edges(self) -> frozenset[Edge]:
        back: set[Edge] = set()
        state: dict[str, int] = {}  # 1: on the DFS stack, 2: done

        def visit(node: str) -> None:
            state[node] = 1
            for edge in self.outgoing[node]:
                if state.get(edge.target) == 1:
                    back.add(edge)
                elif edge.target not in state:
                    visit(edge.target)
            state[node] = 2

        for node in (*self.entry, *self.by_name):
            if node not in state:
                visit(node)
        return frozenset(back)

    def _check_shape(self) -> list[ConfigIssue]:
        issues = []
        if not self.entry:
            issues.append(
                ConfigIssue("$.edges", f"graph {self.name!r} has no entry: every node has a parent")
            )
        for node in self.entry:
            if node not in self.by_name:
                issues.append(ConfigIssue("$.entry", f"unknown agent {node!r}"))
        seen: set[str] = set()
        todo = [n for n in self.entry if n in self.by_name]
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(e.target for e in self.outgoing[node])
        for node in self.by_name:
            if node not in seen:
                issues.append(
                    ConfigIssue("$.edges", f"agent {node!r} cannot be reached from the entry")
                )
        for edge in self.back_edges:
            if not self._loop_can_exit(edge):
                issues.append(
                    ConfigIssue(
                        "$.edges",
                        f"the loop {edge.target} → … → {edge.source} → {edge.target} has no exit condition",
                    )
                )
        return issues

    def _loop_can_exit(self, back: Edge) -> bool:
        """Some edge inside the loop, or out of it, must be conditional."""
        loop = self._nodes_between(back.target, back.source)
        return any(e.condition is not None for node in loop for e in self.outgoing[node])

    def _nodes_between(self, start: str, end: str) -> set[str]:
        forward: set[str] = set()
        todo = [start]
        while todo:
            node = todo.pop()
            if node in forward:
                continue
            forward.add(node)
            if node != end:
                todo.extend(e.target for e in self.outgoing[node] if e not in self.back_edges)
        return forward

    # --- the policy ---------------------------------------------------------------------

    async def _next(
        self, state: RunState, run: RunContext
    ) -> tuple[Sequence[Agent], RunState] | None:
        graph = state.graph or GraphProgress()
        if not run.last and not run.resumed:
            graph = GraphProgress(ready=self.entry)  # a new run starts at the entry
        if not graph.ready:
            return None
        visits = dict(graph.visits)
        for node in graph.ready:
            visits[node] = visits.get(node, 0) + 1
        speakers = [self.by_name[node] for node in graph.ready]
        return speakers, msgspec.structs.replace(
            state, graph=msgspec.structs.replace(graph, ready=(), visits=visits)
        )

    def _after_turn(self, state: RunState, agent: Agent, outcome: AgentOutcome) -> RunState:
        final = next(
            (
                m
                for m in reversed(outcome.messages)
                if isinstance(m, AssistantMessage) and not m.tool_calls
            ),
            None,
        )
        return self._fire(state, agent.name, final)

    def _resume(
        self, state: RunState, pending: PendingInput, answer: Sequence[Message]
    ) -> RunState:
        state = super()._resume(state, pending, answer)
        if pending.inner:
            return state  # the nested team takes the answer and speaks again
        return self._fire(state, pending.agent, answer[-1] if answer else None)

    def _fire(self, state: RunState, node: str, message: Message | None) -> RunState:
        graph = state.graph or GraphProgress()
        ready = list(graph.ready)
        arrived = dict(graph.arrived)
        for edge in self.outgoing.get(node, ()):
            if not edge.fires(message):
                continue
            target = edge.target
            activation = edge.activation or self.activation.get(target, "all")
            if (edge.group is None and edge in self.back_edges) or activation == "any":
                if target not in ready:
                    ready.append(target)
                continue
            key = target if edge.group is None else _group_key(edge)
            waits = self.parents[target] if edge.group is None else self.groups[key]
            heard = frozenset((*arrived.get(key, ()), node))
            if heard >= waits:
                arrived.pop(key, None)
                if target not in ready:
                    ready.append(target)
            else:
                arrived[key] = tuple(sorted(heard))
        graph = msgspec.structs.replace(graph, ready=tuple(ready), arrived=arrived)
        return msgspec.structs.replace(state, graph=graph)


DEFAULT_GRAPH_TURNS = 50


def _group_key(edge: Edge) -> str:
    """Where a group's arrivals are kept (``GraphProgress.arrived``): no node's name."""
    return f"{edge.target}#{edge.group}"
