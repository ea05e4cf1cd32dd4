"""From a validated ``ConfigSpec`` to running objects: models, tools, agents, teams."""

from __future__ import annotations

__all__ = ["build_teams"]

import difflib
import sys
from pathlib import Path

from troupe.agents import AssistantAgent
from troupe.config.models import build_model
from troupe.config.spec import AgentSpec, ConfigSpec, TeamSpec, TerminationSpec
from troupe.errors import ConfigError, ConfigIssue
from troupe.models import ChatModel
from troupe.teams import MaxMessages, RoundRobinTeam, Team, TerminationCondition, TextMention
from troupe.tools import Tool, import_tool


def _termination(spec: TerminationSpec | None) -> TerminationCondition | None:
    if spec is None:
        return None
    conditions: list[TerminationCondition] = []
    if spec.max_messages is not None:
        conditions.append(MaxMessages(spec.max_messages))
    if isinstance(spec.text_mention, str):
        conditions.append(TextMention(spec.text_mention))
    elif spec.text_mention is not None:
        conditions.append(TextMention(spec.text_mention.text, spec.text_mention.sources))
    if not conditions:
        return None
    condition = conditions[0]
    for other in conditions[1:]:
        condition = condition | other
    return condition


class _Builder:
    def __init__(self, spec: ConfigSpec, base_dir: Path | None) -> None:
        self.spec = spec
        self.issues: list[ConfigIssue] = []
        self.models: dict[str, ChatModel] = {}
        self.tools: dict[str, Tool] = {}
        if base_dir is not None and str(base_dir) not in sys.path:
            # Tools are named by import path; let them live next to the config file.
            sys.path.insert(0, str(base_dir))

    def nested(self, path: str, err: ConfigError) -> None:
        """Record the issues of a constructor's ConfigError under ``path``."""
        self.issues.extend(
            ConfigIssue(path + i.path.removeprefix("$"), i.message) for i in err.issues
        )

    def model(self, name: str, path: str) -> ChatModel | None:
        if name not in self.spec.models:
            close = difflib.get_close_matches(name, list(self.spec.models), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(sorted(self.spec.models)) or "none defined"
            self.issues.append(ConfigIssue(path, f"unknown model '{name}'{hint}; models: {known}"))
            return None
        if name not in self.models:
            try:
                self.models[name] = build_model(name, self.spec.models[name])
            except Exception as err:  # a provider that cannot be set up: report, go on
                self.issues.append(ConfigIssue(f"$.models.{name}", str(err)))
                return None
        return self.models[name]

    def tool(self, ref: str, path: str) -> Tool | None:
        if ref not in self.tools:
            try:
                self.tools[ref] = import_tool(ref)
            except (ValueError, TypeError) as err:
                self.issues.append(ConfigIssue(path, str(err)))
                return None
        return self.tools[ref]

    def agent(self, spec: AgentSpec, path: str) -> AssistantAgent | None:
        model = self.model(spec.model, f"{path}.model")
        tools = [self.tool(ref, f"{path}.tools[{i}]") for i, ref in enumerate(spec.tools)]
        if model is None or any(tool is None for tool in tools):
            return None
        try:
            return AssistantAgent(
                spec.name,
                model,
                system_message=spec.system_message,
                description=spec.description,
                tools=[tool for tool in tools if tool is not None],
                max_tool_iterations=spec.max_tool_iterations,
                reflect_on_tool_use=spec.reflect_on_tool_use,
                tool_call_summary_format=spec.tool_call_summary_format,
            )
        except ConfigError as err:
            self.nested(path, err)
            return None

    def team(self, name: str, spec: TeamSpec) -> Team | None:
        path = f"$.teams.{name}"
        agents = [self.agent(a, f"{path}.agents[{i}]") for i, a in enumerate(spec.agents)]
        if any(agent is None for agent in agents):
            return None
        try:
            return RoundRobinTeam(
                name,
                [agent for agent in agents if agent is not None],
                description=spec.description,
                termination=_termination(spec.termination),
                max_turns=spec.max_turns,
                answer_agents=spec.answer_agents,
            )
        except ConfigError as err:
            self.nested(path, err)
            return None


def build_teams(
    spec: ConfigSpec, *, base_dir: Path | None = None, source: str | None = None
) -> dict[str, Team]:
    """Build every team of ``spec``; raises ``ConfigError`` listing every problem."""
    builder = _Builder(spec, base_dir)
    teams = {name: builder.team(name, team) for name, team in spec.teams.items()}
    if not spec.teams:
        builder.issues.append(ConfigIssue("$.teams", "no teams defined"))
    if builder.issues:
        raise ConfigError(builder.issues, source=source)
    return {name: team for name, team in teams.items() if team is not None}
