"""``troupe export``: teams defined in Python, written as the YAML ``troupe serve`` reads.

Everything a config can name is written: the teams (and those they use as
participants or tools), their agents, models, executors, tools (as the import
paths of their functions) and termination conditions. API keys are never
written: a model's key becomes the ``${ENV}`` reference its provider reads.
What a config cannot name (a function defined inside another function, a
model that is not a provider's, such as ``ScriptedModel``) is listed in the
file's header comment and left out or replaced by the demo model.
"""

from __future__ import annotations

__all__ = ["export_teams", "team_config"]

import inspect
from collections.abc import Sequence
from typing import Any

import msgspec
import yaml

from troupe.agents import AssistantAgent, CodeExecutorAgent, UserProxyAgent
from troupe.agents._code_executor import CodeAssistantAgent
from troupe.execution import DockerExecutor, Executor, LocalExecutor
from troupe.interop._sections import config_of
from troupe.models import DemoModel
from troupe.teams import GraphTeam, SelectorTeam, Team, TeamAgent, TeamTool
from troupe.teams import termination as t
from troupe.tools import FunctionTool, import_object

_KEY_ENV = {"openai": "OPENAI_API_KEY", "azure": "AZURE_OPENAI_API_KEY"}
_KEY_ENV["anthropic"] = "ANTHROPIC_API_KEY"
_DEFAULT_URLS = {"https://api.openai.com/v1", "https://api.anthropic.com"}


def _path_of(obj: Any) -> str | None:
    """``module:qualname`` of ``obj`` when importing it gives ``obj`` back."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    try:
        found = import_object(f"{module}:{qualname}")
    except ValueError:
        return None
    return f"{module}:{qualname}" if found is obj else None


class _Exporter:
    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.executors: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.left_out: list[str] = []

    def named(self, section: dict[str, dict[str, Any]], spec: dict[str, Any], hint: str) -> str:
        for name, existing in section.items():
            if existing == spec:
                return name
        name, n = hint, 2
        while name in section:
            name, n = f"{hint}-{n}", n + 1
        section[name] = spec
        return name

    def model(self, model: Any, where: str) -> str:
        provider = getattr(model, "provider", "")
        if isinstance(model, DemoModel):
            return self.named(self.models, {"provider": "demo"}, "demo")
        if provider not in ("openai", "azure", "anthropic", "ollama"):
            self.left_out.append(f"{where}: model {type(model).__name__} (the demo model instead)")
            return self.named(self.models, {"provider": "demo"}, "demo")
        spec: dict[str, Any] = {
            "provider": "openai" if provider == "azure" else provider,
            "model": model.model_name,
        }
        base_url = getattr(model, "base_url", None)
        if base_url and base_url not in _DEFAULT_URLS and provider != "ollama":
            spec["base_url"] = base_url
        if provider in _KEY_ENV:
            spec["api_key"] = f"${{{_KEY_ENV[provider]}}}"
        if provider == "azure":
            spec["api_version"] = model.api_version
            spec["azure_deployment"] = model.azure_deployment
        settings = dict(getattr(model, "settings", None) or {})
        for key in ("temperature", "max_tokens", "top_p", "seed", "stop"):
            if key in settings:
                spec[key] = settings.pop(key)
        if settings:
            spec["extra_body"] = settings
        return self.named(self.models, spec, model.model_name or provider)

    def executor(self, executor: Executor, where: str) -> str:
        spec: dict[str, Any]
        if isinstance(executor, LocalExecutor):
            spec = {"kind": "local", "enabled": True, "timeout": executor.timeout}
        elif isinstance(executor, DockerExecutor):
            spec = {"kind": "docker", "image": executor.image, "timeout": executor.timeout}
            if executor.network != "none":
                spec["network"] = executor.network
        else:
            self.left_out.append(f"{where}: executor {type(executor).__name__} (docker instead)")
            spec = {"kind": "docker"}
        return self.named(self.executors, spec, "code")

    def tools(self, agent: AssistantAgent, where: str, spec: dict[str, Any]) -> None:
        for name, tool in agent.tools.items():
            if isinstance(tool, TeamTool):
                spec.setdefault("team_tools", []).append(self.team(tool.team))
                continue
            if name == "run_code" and isinstance(agent, CodeAssistantAgent):
                continue  # ``code_executor:`` gives it back
            path = _path_of(tool._fn if isinstance(tool, FunctionTool) else tool)
            if path is None:
                self.left_out.append(f"{where}.tools: {name} (not importable by path)")
            else:
                spec.setdefault("tools", []).append(path)

    def agent(self, agent: Any, where: str) -> dict[str, Any] | None:
        spec: dict[str, Any] = {"name": agent.name}
        if isinstance(agent, TeamAgent):
            return {"kind": "team", "name": agent.name, "team": self.team(agent.team)}
        if isinstance(agent, UserProxyAgent):
            return {"kind": "user_proxy", **spec, "prompt": agent.prompt}
        if isinstance(agent, CodeExecutorAgent):
            spec = {"kind": "code_executor", **spec}
            spec["executor"] = self.executor(agent.executor, where)
            if agent.model is not None:
                spec["model"] = self.model(agent.model, where)
                spec["system_message"] = agent.system_message
                spec["max_retries"] = agent.max_retries
            return spec
        if not isinstance(agent, AssistantAgent):
            self.left_out.append(f"{where}: agent of type {type(agent).__name__}")
            return None
        spec["description"] = agent.description
        spec["model"] = self.model(agent.model, where)
        spec["system_message"] = agent.system_message
        self.tools(agent, where, spec)
        if isinstance(agent, CodeAssistantAgent):
            spec["code_executor"] = self.executor(agent.executor, where)
        handoffs = [msgspec.structs.asdict(h) for h in agent.handoffs.values()]
        if handoffs:
            spec["handoffs"] = [{k: v for k, v in h.items() if v} for h in handoffs]
        if agent.stop_tool:
            spec["stop_tool"] = True
        spec["max_tool_iterations"] = agent.max_tool_iterations
        spec["reflect_on_tool_use"] = agent.reflect_on_tool_use
        if agent.tool_call_summary_format != "{result}":
            spec["tool_call_summary_format"] = agent.tool_call_summary_format
        context = {k: v for k, v in msgspec.structs.asdict(agent.context).items() if v}
        if context:
            spec["context"] = context
        if agent.output is not None:
            spec["output_schema"] = agent.output.schema.schema
        return spec

    def team(self, team: Team) -> str:
        if team.name in self.teams:
            return team.name
        self.teams[team.name] = {}
        where = f"teams.{team.name}"
        spec: dict[str, Any] = {"kind": team.kind, "description": team.description}
        if isinstance(team, SelectorTeam):
            selector: dict[str, Any] = {
                "prompt": team.selector_prompt,
                "allow_repeated_speaker": team.allow_repeated_speaker,
                "max_attempts": team.max_selector_attempts,
            }
            if team.model is not None:
                selector["model"] = self.model(team.model, f"{where}.selector")
            for key in ("selector_func", "candidate_func"):
                func = getattr(team, key)
                if func is not None:
                    path = _path_of(func)
                    if path:
                        selector[key] = path
                    else:
                        self.left_out.append(f"{where}.selector.{key} (not importable by path)")
            spec["selector"] = selector
        if isinstance(team, GraphTeam):
            spec["edges"] = [self.edge(edge, where) for edge in team.edges]
            spec["entry"] = list(team.entry)
            if team.activation:
                spec["activation"] = dict(team.activation)
        agents = [self.agent(a, f"{where}.agents.{a.name}") for a in team.agents]
        spec["agents"] = [a for a in agents if a is not None]
        if team.termination is not None:
            spec["termination"] = self.termination(team.termination, where)
        spec["max_turns"] = team.max_turns
        if team.answer_agents is not None:
            spec["answer_agents"] = sorted(team.answer_agents)
        self.teams[team.name] = spec
        return team.name

    def edge(self, edge: Any, where: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"from": edge.source, "to": edge.target}
        if isinstance(edge.condition, str):
            spec["when"] = edge.condition
        elif edge.condition is not None:
            path = _path_of(edge.condition)
            if path:
                spec["when_func"] = path
            else:
                self.left_out.append(f"{where}.edges: {edge.source}->{edge.target} condition")
        return spec

    def termination(self, cond: t.TerminationCondition, where: str) -> dict[str, Any]:
        match cond:
            case t.AnyOf():
                return {"any": [self.termination(c, where) for c in cond.conditions]}
            case t.AllOf():
                return {"all": [self.termination(c, where) for c in cond.conditions]}
            case t.MaxMessages():
                return {"max_messages": cond.max_messages}
            case t.TextMention():
                if cond.sources is None:
                    return {"text_mention": cond.text}
                return {"text_mention": {"text": cond.text, "sources": sorted(cond.sources)}}
            case t.StopMessage():
                return {"stop_message": True}
            case t.TokenUsage():
                return {"token_usage": {k: v for k, v in cond.limits if v is not None}}
            case t.Handoff():
                return {"handoff": cond.target}
            case t.Timeout():
                return {"timeout": cond.seconds}
            case t.External():
                return {"external": True}
            case t.SourceMatch():
                return {"source_match": sorted(cond.sources)}
            case t.TextMessage():
                return {"text_message": cond.source or True}
            case t.FunctionCall():
                return {"function_call": cond.function_name}
        self.left_out.append(f"{where}.termination: {type(cond).__name__}")
        return {}


def team_config(teams: Sequence[Team]) -> tuple[dict[str, Any], list[str]]:
    """The config (a dict) of ``teams`` and what could not be written, each with its place."""
    exporter = _Exporter()
    for team in teams:
        exporter.team(team)
    return config_of(exporter.models, exporter.executors, exporter.teams), exporter.left_out


def _takes_nothing(func: Any) -> bool:
    try:
        inspect.signature(func).bind()
    except (TypeError, ValueError):
        return False
    return True


def export_teams(path: str) -> str:
    """The YAML of the team (or list of teams, or function returning either) at ``path``."""
    obj = import_object(path, what="team")
    if callable(obj) and not isinstance(obj, Team | type) and _takes_nothing(obj):
        obj = obj()
    teams = [obj] if isinstance(obj, Team) else list(obj) if isinstance(obj, list | tuple) else []
    if not teams or not all(isinstance(team, Team) for team in teams):
        raise ValueError(f"{path!r} is not a team, a list of teams, or a function returning them")
    config, left_out = team_config(teams)
    head = ["# Written by `troupe export` from " + path + "."]
    if left_out:
        head += ["# Not written (a config cannot name them):", *(f"#   {x}" for x in left_out)]
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(head) + "\n" + body
