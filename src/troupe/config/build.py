"""From a validated ``ConfigSpec`` to running objects: models, tools, agents, teams.

Every problem is collected with its path, and reported together as one
``ConfigError``. Teams may use other teams of the config (as a participant,
``kind: team``, or as a tool, ``team_tools``), so teams are built in
dependency order and a cycle is an error.

A team whose agent cannot be built (an unknown model, say) is still checked
as a team, with a stand-in for that agent, so that its handoffs and edges are
reported in the same run. Each kind of team and agent has a builder in
``TEAM_BUILDERS`` / ``AGENT_BUILDERS``, keyed by its spec type.
"""

from __future__ import annotations

__all__ = ["AGENT_BUILDERS", "TEAM_BUILDERS", "build_teams"]

import difflib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from troupe.agents import (
    Agent,
    AssistantAgent,
    CodeAssistantAgent,
    CodeExecutorAgent,
    FilteredAgent,
    Handoff,
    UserProxyAgent,
)
from troupe.agents._filter import PerSourceFilters
from troupe.config._collect import join, shown
from troupe.config._termination import build_termination, unknown_agents
from troupe.config.cache import cached_model
from troupe.config.executors import build_executor
from troupe.config.magentic import MagenticOneTeamSpec, build_magentic_one
from troupe.config.mcp import mcp_approval_agent, mcp_approvals, mcp_toolset
from troupe.config.memory import build_memory
from troupe.config.models import build_model
from troupe.config.society import SocietyOfMindAgentSpec, build_society_of_mind
from troupe.config.spec import (
    AgentSpec,
    AssistantAgentSpec,
    CodeExecutorAgentSpec,
    ConfigSpec,
    GraphTeamSpec,
    RoundRobinTeamSpec,
    SelectorTeamSpec,
    SwarmTeamSpec,
    TeamAgentSpec,
    TeamSpec,
    TerminationSpec,
    UserProxyAgentSpec,
)
from troupe.errors import ConfigError, ConfigIssue
from troupe.execution import Executor
from troupe.memory import Memory
from troupe.models import ChatModel, DemoModel, OutputSchema, capability_problem
from troupe.store import DEFAULT_DATABASE_URL
from troupe.teams import (
    DEFAULT_SELECTOR_PROMPT,
    Edge,
    GraphTeam,
    RoundRobinTeam,
    SelectorTeam,
    SwarmTeam,
    Team,
    TeamAgent,
    TeamTool,
    TerminationCondition,
)
from troupe.tools import Tool, Toolset, import_object, import_tool


class _Builder:
    def __init__(self, spec: ConfigSpec, base_dir: Path | None, dropped: frozenset[str]) -> None:
        self.spec = spec
        self.dropped = dropped
        self.issues: list[ConfigIssue] = []
        self.models: dict[str, ChatModel | None] = {}
        self.tools: dict[str, Tool | None] = {}
        self.executors: dict[str, Executor | None] = {}
        self.memories: dict[str, Memory | None] = {}
        self.teams: dict[str, Team | None] = {}
        self.mcp: dict[str, Any] = {}  # one connection per MCP server (troupe.config.mcp)
        self.building: list[str] = []
        # Set when a reference fails while a team is built: the team is checked, not kept.
        self.failed = False
        if base_dir is not None and str(base_dir) not in sys.path:
            # Tools are named by import path; let them live next to the config file.
            sys.path.insert(0, str(base_dir))

    def report(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))
        self.failed = True

    def nested(self, path: str, err: ConfigError) -> None:
        """Record the issues of a constructor's ConfigError under ``path``."""
        for issue in err.issues:
            self.report(path + issue.path.removeprefix("$"), issue.message)

    def _known(self, section: str, name: str, names: Mapping[str, object], path: str) -> bool:
        """Whether ``name`` is an entry of ``section``; reports it when it is not."""
        if name in names:
            return True
        self.failed = True
        if join(f"$.{section}", name) in self.dropped:
            return False  # it exists but is invalid: its own error says so
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        # Entries with errors of their own are names all the same.
        invalid = {p for p in self.dropped if p == join(f"$.{section}", p.rpartition(".")[2])}
        known = ", ".join(sorted({*names, *(p.rpartition(".")[2] for p in invalid)}))
        known = known or "none defined"
        singular = "memory" if section == "memories" else section[:-1]
        self.report(path, f"unknown {singular} {shown(name)}{hint}; {section}: {known}")
        return False

    def model(self, name: str, path: str) -> ChatModel | None:
        if not self._known("models", name, self.spec.models, path):
            return None
        if name not in self.models:
            self.models[name] = None
            try:
                model_spec = self.spec.models[name]
                model = build_model(name, model_spec, models=self.spec.models)
                if model_spec.cache is not None:
                    model = cached_model(
                        model,
                        model_spec.cache,
                        model_spec,
                        self.spec.server.database_url or DEFAULT_DATABASE_URL,
                    )
                self.models[name] = model
            except ConfigError as err:
                self.nested(join("$.models", name), err)
            except Exception as err:  # a provider that cannot be set up: report, go on
                self.report(join("$.models", name), str(err))
        self.failed = self.failed or self.models[name] is None
        return self.models[name]

    def executor(self, name: str, path: str) -> Executor | None:
        if not self._known("executors", name, self.spec.executors, path):
            return None
        if name not in self.executors:
            self.executors[name] = None
            try:
                self.executors[name] = build_executor(name, self.spec.executors[name])
            except ConfigError as err:
                self.nested(join("$.executors", name), err)
        self.failed = self.failed or self.executors[name] is None
        return self.executors[name]

    def memory(self, name: str, path: str) -> Memory | None:
        if not self._known("memories", name, self.spec.memories, path):
            return None
        if name not in self.memories:
            self.memories[name] = None
            try:
                self.memories[name] = build_memory(
                    name,
                    self.spec.memories[name],
                    self.spec.server.database_url or DEFAULT_DATABASE_URL,
                )
            except ConfigError as err:
                self.nested(join("$.memories", name), err)
        self.failed = self.failed or self.memories[name] is None
        return self.memories[name]

    def tool(self, ref: str, path: str) -> Tool | Toolset | None:
        if ref.startswith("mcp:"):
            return mcp_toolset(self, ref, path)
        if ref not in self.tools:
            try:
                self.tools[ref] = import_tool(ref)
            except (ValueError, TypeError) as err:
                self.tools[ref] = None
                self.report(path, str(err))
                return None
        self.failed = self.failed or self.tools[ref] is None
        return self.tools[ref]

    def function(self, ref: str | None, path: str) -> Callable[..., Any] | None:
        if ref is None:
            return None
        try:
            obj = import_object(ref, what="function")
        except ValueError as err:
            self.report(path, str(err))
            return None
        if not callable(obj):
            self.report(path, f"{ref!r} is not callable")
            return None
        return obj  # type: ignore[no-any-return]

    def team(self, name: str, path: str) -> Team | None:
        """The team ``name`` of the config, built once (other teams may use it)."""
        if name in self.teams:
            self.failed = self.failed or self.teams[name] is None
            return self.teams[name]
        if not self._known("teams", name, self.spec.teams, path):
            return None
        if name in self.building:
            cycle = " → ".join([*self.building[self.building.index(name) :], name])
            self.report(path, f"teams use each other in a cycle: {cycle}")
            return None
        self.building.append(name)
        outer, self.failed = self.failed, False
        team = self._team(name, self.spec.teams[name])
        self.failed = outer or team is None
        self.building.pop()
        self.teams[name] = team
        return team

    def agent(self, spec: AgentSpec, path: str) -> Agent | None:
        try:
            agent = AGENT_BUILDERS[type(spec)](self, spec, path)
        except ConfigError as err:
            self.nested(path, err)
            return None
        filters = spec.message_filter
        if agent is not None and filters is not None:
            rules = filters.per_source if isinstance(filters, PerSourceFilters) else filters
            return FilteredAgent(agent, rules)
        return agent

    def _team(self, name: str, spec: TeamSpec) -> Team | None:
        path = join("$.teams", name)
        built = [self.agent(a, f"{path}.agents[{i}]") for i, a in enumerate(spec.agents)]
        team_type, kind_args = TEAM_BUILDERS[type(spec)](self, spec, path)
        if any(p.startswith(f"{path}.agents[") for p in self.dropped):
            return None  # its agents' own errors first: the team's checks would miss them
        names = self._speakers(spec, {name})
        for issue in unknown_agents(spec.termination, names, f"{path}.termination"):
            self.report(issue.path, issue.message)
        members = [a or _stand_in(s) for a, s in zip(built, spec.agents, strict=True)]
        try:
            team = team_type(
                name,
                members,
                description=spec.description,
                termination=self._termination(spec.termination, f"{path}.termination"),
                max_turns=spec.max_turns,
                answer_agents=spec.answer_agents,
                **kind_args,
            )
        except ConfigError as err:
            self.nested(path, err)
            return None
        return None if self.failed else team

    def _termination(self, spec: TerminationSpec | None, path: str) -> TerminationCondition | None:
        try:
            return build_termination(spec, self.function, path)
        except ConfigError as err:  # a function that cannot be a condition
            self.nested(path, err)
            return None

    def _speakers(self, spec: TeamSpec, seen: set[str]) -> set[str]:
        """The names of the agents that speak in a run of the team, nested teams' too."""
        names = {agent.name for agent in spec.agents}
        for agent in spec.agents:
            if isinstance(agent, TeamAgentSpec) and agent.team not in seen:
                inner = self.spec.teams.get(agent.team)
                if inner is not None:
                    names |= self._speakers(inner, seen | {agent.team})
        return names


def _stand_in(spec: AgentSpec) -> Agent:
    """An agent with only the name and handoffs of one that failed, for its team's checks."""
    if isinstance(spec, AssistantAgentSpec):
        return AssistantAgent(spec.name, DemoModel(), handoffs=_handoffs(spec))
    return UserProxyAgent(spec.name)


def _handoffs(spec: AssistantAgentSpec) -> list[Handoff]:
    return [
        Handoff(target=h)
        if isinstance(h, str)
        else Handoff(target=h.target, description=h.description, message=h.message)
        for h in spec.handoffs
    ]


def _user_proxy(b: _Builder, spec: UserProxyAgentSpec, path: str) -> Agent | None:
    return UserProxyAgent(
        spec.name, description=spec.description or "A human user.", prompt=spec.prompt
    )


def _team_agent(b: _Builder, spec: TeamAgentSpec, path: str) -> Agent | None:
    inner = b.team(spec.team, f"{path}.team")
    return TeamAgent(inner, name=spec.name, description=spec.description or None) if inner else None


def _code_executor(b: _Builder, spec: CodeExecutorAgentSpec, path: str) -> Agent | None:
    executor = b.executor(spec.executor, f"{path}.executor")
    model = b.model(spec.model, f"{path}.model") if spec.model is not None else None
    if executor is None or (spec.model is not None and model is None):
        return None
    return CodeExecutorAgent(
        spec.name,
        executor,
        model=model,
        description=spec.description,
        max_retries=spec.max_retries,
        system_message=spec.system_message,
    )


def _assistant(b: _Builder, spec: AssistantAgentSpec, path: str) -> Agent | None:
    model = b.model(spec.model, f"{path}.model")
    executor = (
        b.executor(spec.code_executor, f"{path}.code_executor")
        if spec.code_executor is not None
        else None
    )
    tools: list[Tool | Toolset | None] = [
        b.tool(ref, f"{path}.tools[{i}]") for i, ref in enumerate(spec.tools)
    ]
    memories = [b.memory(name, f"{path}.memory[{i}]") for i, name in enumerate(spec.memory)]
    for i, team_name in enumerate(spec.team_tools):
        inner = b.team(team_name, f"{path}.team_tools[{i}]")
        tools.append(TeamTool(inner) if inner else None)
    if model is None or any(tool is None for tool in tools) or None in memories:
        return None
    if spec.code_executor is not None and executor is None:
        return None
    needs_tools = bool(tools or spec.handoffs or spec.stop_tool or executor is not None)
    problem = capability_problem(
        model, tools=needs_tools, structured_output=spec.output_schema is not None
    )
    if problem:
        b.report(f"{path}.model", f"agent {spec.name!r} needs it, but {problem}")
        return None
    kind_args: dict[str, Any] = {}
    agent_type: type[AssistantAgent] = AssistantAgent
    if executor is not None:
        agent_type, kind_args = CodeAssistantAgent, {"executor": executor}
    if mcp_approvals(tools):
        agent_type = mcp_approval_agent(agent_type)
    return agent_type(
        spec.name,
        model,
        **kind_args,
        system_message=spec.system_message,
        description=spec.description,
        tools=[tool for tool in tools if tool is not None],
        max_tool_iterations=spec.max_tool_iterations,
        reflect_on_tool_use=spec.reflect_on_tool_use,
        tool_call_summary_format=spec.tool_call_summary_format,
        handoffs=_handoffs(spec),
        stop_tool=spec.stop_tool,
        client_tools=spec.client_tools,
        context=spec.context,
        memory=[m for m in memories if m is not None],
        output_type=(
            OutputSchema(schema=spec.output_schema, name=f"{spec.name}_output", strict=False)
            if spec.output_schema is not None
            else None
        ),
    )


_TeamKind = tuple[Callable[..., Team], dict[str, Any]]


def _round_robin(b: _Builder, spec: RoundRobinTeamSpec, path: str) -> _TeamKind:
    return RoundRobinTeam, {}


def _swarm(b: _Builder, spec: SwarmTeamSpec, path: str) -> _TeamKind:
    return SwarmTeam, {}


def _selector(b: _Builder, spec: SelectorTeamSpec, path: str) -> _TeamKind:
    selector = spec.selector
    where = f"{path}.selector"
    if selector.model is None and selector.selector_func is None:
        b.report(where, "a selector team needs a model (or a selector_func) to pick speakers")
    model = b.model(selector.model, f"{where}.model") if selector.model is not None else None
    selector_func = b.function(selector.selector_func, f"{where}.selector_func")
    if model is None and selector_func is None:
        model = DemoModel()  # a stand-in, the problem reported: the team is checked, not kept
    return SelectorTeam, {
        "model": model,
        "selector_prompt": selector.prompt or DEFAULT_SELECTOR_PROMPT,
        "allow_repeated_speaker": selector.allow_repeated_speaker,
        "max_selector_attempts": selector.max_attempts,
        "selector_func": selector_func,
        "candidate_func": b.function(selector.candidate_func, f"{where}.candidate_func"),
    }


def _graph(b: _Builder, spec: GraphTeamSpec, path: str) -> _TeamKind:
    edges = []
    for i, edge in enumerate(spec.edges):
        predicate = b.function(edge.when_func, f"{path}.edges[{i}].when_func")
        edges.append(
            Edge(edge.source, edge.target, predicate or edge.when, edge.group, edge.activation)
        )
    return GraphTeam, {"edges": edges, "entry": spec.entry, "activation": spec.activation}


# One builder per kind: (builder, spec, path) -> the agent, None when it cannot be built.
AGENT_BUILDERS: dict[type[Any], Callable[[_Builder, Any, str], Agent | None]] = {
    AssistantAgentSpec: _assistant,
    UserProxyAgentSpec: _user_proxy,
    TeamAgentSpec: _team_agent,
    CodeExecutorAgentSpec: _code_executor,
    SocietyOfMindAgentSpec: build_society_of_mind,
}
# One builder per kind: (builder, spec, path) -> the team class and its kind's arguments.
TEAM_BUILDERS: dict[type[Any], Callable[[_Builder, Any, str], _TeamKind]] = {
    RoundRobinTeamSpec: _round_robin,
    SelectorTeamSpec: _selector,
    SwarmTeamSpec: _swarm,
    GraphTeamSpec: _graph,
    MagenticOneTeamSpec: build_magentic_one,
}


def build_teams(
    spec: ConfigSpec,
    *,
    base_dir: Path | None = None,
    source: str | None = None,
    dropped: frozenset[str] = frozenset(),
) -> dict[str, Team]:
    """Build every team of ``spec``; raises ``ConfigError`` listing every problem.

    ``dropped`` names entries that failed to decode (``Parsed.dropped``): a
    reference to one of them is not reported again as unknown.
    """
    builder = _Builder(spec, base_dir, dropped)
    teams = {name: builder.team(name, join("$.teams", name)) for name in spec.teams}
    if not spec.teams and not any(p.startswith("$.teams") for p in dropped):
        builder.report("$.teams", "no teams defined")
    if builder.issues:
        raise ConfigError(builder.issues, source=source)
    return {name: team for name, team in teams.items() if team is not None}
