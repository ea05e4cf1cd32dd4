"""The teams page's data: each team's kind, agents, termination and drawing."""

from __future__ import annotations

__all__ = ["team_views"]

from typing import Any

import msgspec

from troupe.agents import AssistantAgent
from troupe.config import ConfigSpec
from troupe.studio._graph import team_svg
from troupe.teams import Team


def _compact(value: Any) -> Any:
    """Config data without what is unset (None, false, empty): what a person wrote."""
    if isinstance(value, dict):
        kept = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, False, [], {}, "")}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _agent(agent: Any, spec: Any | None) -> dict[str, Any]:
    """An agent as its config wrote it (every field), with what the built agent resolved."""
    view: dict[str, Any] = msgspec.to_builtins(spec) if spec is not None else {}
    view["name"] = agent.name
    view.setdefault("kind", getattr(spec, "kind", None) or type(agent).__name__)
    view["description"] = getattr(agent, "description", "") or view.get("description", "")
    if isinstance(agent, AssistantAgent):
        view["tool_names"] = list(agent.tools)
        view["handoff_targets"] = [h.target for h in agent.handoffs.values()]
    if "model" not in view and getattr(agent, "model", None) is not None:
        view["model"] = type(agent.model).__name__
    executor = getattr(agent, "executor", None)
    if executor is not None and "executor" not in view:
        view["executor"] = type(executor).__name__
    return view


def team_views(teams: dict[str, Team], spec: ConfigSpec | None) -> list[dict[str, Any]]:
    views = []
    for name, team in teams.items():
        team_spec = spec.teams.get(name) if spec is not None else None
        agent_specs = {a.name: a for a in team_spec.agents} if team_spec is not None else {}
        termination = (
            _compact(msgspec.to_builtins(team_spec.termination))
            if team_spec is not None and team_spec.termination is not None
            else (repr(team.termination) if team.termination is not None else None)
        )
        views.append(
            {
                "name": name,
                "kind": team.kind,
                "description": team.description,
                "agents": [_agent(a, agent_specs.get(a.name)) for a in team.agents],
                "termination": termination,
                "max_turns": team.max_turns,
                "answer_agents": sorted(team.answer_agents) if team.answer_agents else None,
                "selector": (
                    _compact(msgspec.to_builtins(team_spec.selector))
                    if team_spec is not None and team_spec.kind == "selector"
                    else None
                ),
                "svg": team_svg(team),
            }
        )
    return views
