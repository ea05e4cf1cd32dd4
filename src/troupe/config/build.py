"""From a validated ``ConfigSpec`` to running objects: models, tools, agents, teams.

Every problem is collected with its path, and reported together as one
``ConfigError``. Teams may use other teams of the config (as a participant,
``kind: team``, or as a tool, ``team_tools``), so teams are built in
dependency order and a cycle is an error.
"""

from __future__ import annotations

__all__ = ["build_teams"]

import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from troupe.agents import (
    Agent,
    AssistantAgent,
    CodeAssistantAgent,
    CodeExecutorAgent,
    Handoff,
    UserProxyAgent,
)
from troupe.config._termination import build_termination
from troupe.config.executors import build_executor
from troupe.config.models import build_model
from troupe.config.spec import AgentSpec, ConfigSpec, TeamSpec
from troupe.errors import ConfigError, ConfigIssue
from troupe.execution import Executor
from troupe.models import ChatModel, OutputSchema, capability_problem
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
)
from troupe.tools import Tool, import_object, import_tool


class _Builder:
    def __init__(self, spec: ConfigSpec, base_dir: Path | None) -> None:
        self.spec = spec
        self.issues: list[ConfigIssue] = []
        self.models: dict[str, ChatModel] = {}
        self.tools: dict[str, Tool] = {}
        self.executors: dict[str, Executor] = {}
        self.teams: dict[str, Team | None] = {}
        self.building: list[str] = []
        if base_dir is not None and str(base_dir) not in sys.path:
            # Tools are named by import path; let them live next to the config file.
            sys.path.insert(0, str(base_dir))

    def nested(self, path: str, err: ConfigError) -> None:
        """Record the issues of a constructor's ConfigError under ``path``."""
        self.issues.extend(
            ConfigIssue(path + i.path.removeprefix("$"), i.message) for i in err.issues
        )

    def model(self, name: str | None, path: str) -> ChatModel | None:
        if name is None:
            self.issues.append(ConfigIssue(path, "a model is required"))
            return None
        if name not in self.spec.models:
            close = difflib.get_close_matches(name, list(self.spec.models), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(sorted(self.spec.models)) or "none defined"
            self.issues.append(ConfigIssue(path, f"unknown model '{name}'{hint}; models: {known}"))
            return None
        if name not in self.models:
            try:
                self.models[name] = build_model(
                    name, self.spec.models[name], models=self.spec.models
                )
            except ConfigError as err:
                self.nested(f"$.models.{name}", err)
                return None
            except Exception as err:  # a provider that cannot be set up: report, go on
                self.issues.append(ConfigIssue(f"$.models.{name}", str(err)))
                return None
        return self.models[name]

    def executor(self, name: str | None, path: str) -> Executor | None:
        if name is None:
            self.issues.append(ConfigIssue(path, "an executor is required"))
            return None
        if name not in self.spec.executors:
            close = difflib.get_close_matches(name, list(self.spec.executors), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(sorted(self.spec.executors)) or "none defined"
            self.issues.append(
                ConfigIssue(path, f"unknown executor '{name}'{hint}; executors: {known}")
            )
            return None
        if name not in self.executors:
            try:
                self.executors[name] = build_executor(name, self.spec.executors[name])
            except ConfigError as err:
                self.nested(f"$.executors.{name}", err)
                return None
        return self.executors[name]

    def tool(self, ref: str, path: str) -> Tool | None:
        if ref not in self.tools:
            try:
                self.tools[ref] = import_tool(ref)
            except (ValueError, TypeError) as err:
                self.issues.append(ConfigIssue(path, str(err)))
                return None
        return self.tools[ref]

    def function(self, ref: str | None, path: str) -> Callable[..., Any] | None:
        if ref is None:
            return None
        try:
            obj = import_object(ref, what="function")
        except ValueError as err:
            self.issues.append(ConfigIssue(path, str(err)))
            return None
        if not callable(obj):
            self.issues.append(ConfigIssue(path, f"{ref!r} is not callable"))
            return None
        return obj  # type: ignore[no-any-return]

    def team(self, name: str, path: str) -> Team | None:
        """The team ``name`` of the config, built once (other teams may use it)."""
        if name in self.teams:
            return self.teams[name]
        if name not in self.spec.teams:
            known = ", ".join(sorted(self.spec.teams))
            self.issues.append(ConfigIssue(path, f"unknown team {name!r}; teams: {known}"))
            return None
        if name in self.building:
            cycle = " → ".join([*self.building[self.building.index(name) :], name])
            self.issues.append(ConfigIssue(path, f"teams use each other in a cycle: {cycle}"))
            return None
        self.building.append(name)
        team = self._team(name, self.spec.teams[name])
        self.building.pop()
        self.teams[name] = team
        return team

    def agent(self, spec: AgentSpec, path: str) -> Agent | None:
        try:
            if spec.kind == "user_proxy":
                prompt = {"prompt": spec.prompt} if spec.prompt else {}
                return UserProxyAgent(
                    spec.name, description=spec.description or "A human user.", **prompt
                )
            if spec.kind == "team":
                if spec.team is None:
                    self.issues.append(
                        ConfigIssue(f"{path}.team", "a team agent names the team it stands for")
                    )
                    return None
                inner = self.team(spec.team, f"{path}.team")
                return (
                    TeamAgent(inner, name=spec.name, description=spec.description or None)
                    if inner
                    else None
                )
            if spec.kind == "code_executor":
                return self._code_executor(spec, path)
            return self._assistant(spec, path)
        except ConfigError as err:
            self.nested(path, err)
            return None

    def _code_executor(self, spec: AgentSpec, path: str) -> CodeExecutorAgent | None:
        executor = self.executor(spec.executor, f"{path}.executor")
        model = self.model(spec.model, f"{path}.model") if spec.model is not None else None
        if executor is None or (spec.model is not None and model is None):
            return None
        # The assistant's default system message does not fit a coder: keep the agent's own.
        system = (
            {}
            if spec.system_message == AgentSpec(name="default").system_message
            else {"system_message": spec.system_message}
        )
        return CodeExecutorAgent(
            spec.name,
            executor,
            model=model,
            description=spec.description,
            max_retries=spec.max_retries,
            **system,
        )

    def _assistant(self, spec: AgentSpec, path: str) -> AssistantAgent | None:
        model = self.model(spec.model, f"{path}.model")
        executor = (
            self.executor(spec.code_executor, f"{path}.code_executor")
            if spec.code_executor is not None
            else None
        )
        tools: list[Tool | None] = [
            self.tool(ref, f"{path}.tools[{i}]") for i, ref in enumerate(spec.tools)
        ]
        for i, team_name in enumerate(spec.team_tools):
            inner = self.team(team_name, f"{path}.team_tools[{i}]")
            tools.append(TeamTool(inner) if inner else None)
        if model is None or any(tool is None for tool in tools):
            return None
        if spec.code_executor is not None and executor is None:
            return None
        needs_tools = bool(tools or spec.handoffs or spec.stop_tool or executor is not None)
        problem = capability_problem(
            model, tools=needs_tools, structured_output=spec.output_schema is not None
        )
        if problem:
            self.issues.append(
                ConfigIssue(f"{path}.model", f"agent {spec.name!r} needs it, but {problem}")
            )
            return None
        handoffs = [
            Handoff(target=h)
            if isinstance(h, str)
            else Handoff(target=h.target, description=h.description, message=h.message)
            for h in spec.handoffs
        ]
        kind_args: dict[str, Any] = {}
        agent_type: type[AssistantAgent] = AssistantAgent
        if executor is not None:
            agent_type, kind_args = CodeAssistantAgent, {"executor": executor}
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
            handoffs=handoffs,
            stop_tool=spec.stop_tool,
            context=spec.context,
            output_type=(
                OutputSchema(schema=spec.output_schema, name=f"{spec.name}_output", strict=False)
                if spec.output_schema is not None
                else None
            ),
        )

    def _team(self, name: str, spec: TeamSpec) -> Team | None:
        path = f"$.teams.{name}"
        agents = [self.agent(a, f"{path}.agents[{i}]") for i, a in enumerate(spec.agents)]
        common: dict[str, Any] = {
            "description": spec.description,
            "termination": build_termination(spec.termination),
            "max_turns": spec.max_turns,
            "answer_agents": spec.answer_agents,
        }
        kind_args = self._kind_args(name, spec, path)
        if any(agent is None for agent in agents) or kind_args is None:
            return None
        members: Sequence[Agent] = [agent for agent in agents if agent is not None]
        try:
            if spec.kind == "selector":
                return SelectorTeam(name, members, **kind_args, **common)
            if spec.kind == "swarm":
                return SwarmTeam(name, members, **common)
            if spec.kind == "graph":
                return GraphTeam(name, members, **kind_args, **common)
            return RoundRobinTeam(name, members, **common)
        except ConfigError as err:
            self.nested(path, err)
            return None

    def _kind_args(self, name: str, spec: TeamSpec, path: str) -> dict[str, Any] | None:
        if spec.kind == "selector":
            selector = spec.selector
            if selector is None:
                self.issues.append(
                    ConfigIssue(f"{path}.selector", "a selector team needs selector: {model: ...}")
                )
                return None
            model = self.model(selector.model, f"{path}.selector.model") if selector.model else None
            return {
                "model": model,
                "selector_prompt": selector.prompt or DEFAULT_SELECTOR_PROMPT,
                "allow_repeated_speaker": selector.allow_repeated_speaker,
                "max_selector_attempts": selector.max_attempts,
                "selector_func": self.function(
                    selector.selector_func, f"{path}.selector.selector_func"
                ),
                "candidate_func": self.function(
                    selector.candidate_func, f"{path}.selector.candidate_func"
                ),
            }
        if spec.kind == "graph":
            edges = []
            for i, edge in enumerate(spec.edges):
                predicate = self.function(edge.when_func, f"{path}.edges[{i}].when_func")
                edges.append(Edge(edge.source, edge.target, predicate or edge.when))
            return {"edges": edges, "entry": spec.entry, "activation": spec.activation}
        return {}


def build_teams(
    spec: ConfigSpec, *, base_dir: Path | None = None, source: str | None = None
) -> dict[str, Team]:
    """Build every team of ``spec``; raises ``ConfigError`` listing every problem."""
    builder = _Builder(spec, base_dir)
    teams = {name: builder.team(name, f"$.teams.{name}") for name in spec.teams}
    if not spec.teams:
        builder.issues.append(ConfigIssue("$.teams", "no teams defined"))
    if builder.issues:
        raise ConfigError(builder.issues, source=source)
    return {name: team for name, team in teams.items() if team is not None}
