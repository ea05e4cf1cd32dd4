"""``troupe import autogen``: an AutoGen AgentChat team (component JSON) as troupe YAML.

Reads what ``team.dump_component().model_dump_json()`` writes in AgentChat
0.4 to 0.7, and AutoGen Studio's exports (one team, or a gallery's
``components.teams``): the team kinds, their agents, model clients, tools and
termination conditions. What troupe's config cannot express is listed in
``AutoGenImport.not_carried``, each with its JSON path; ``notes`` says what was
carried over differently (API keys become ``${ENV}`` references, never copied).

The YAML is checked with troupe's own config loader (``troupe check`` does the
same), so a file that imports is a file that serves.
"""

from __future__ import annotations

__all__ = ["AutoGenImport", "NotCarried", "import_autogen"]

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from troupe.config.spec import TeamSpec
from troupe.interop._autogen_agents import import_agent
from troupe.interop._autogen_base import (
    Component,
    Importer,
    NotCarried,
    identifier,
    listed,
    mapped,
    spec_fields,
)
from troupe.interop._autogen_models import import_model
from troupe.interop._autogen_termination import import_termination
from troupe.interop._autogen_tools import render_tools_module
from troupe.interop._sections import config_of

_KINDS = {
    "RoundRobinGroupChat": "round_robin",
    "SelectorGroupChat": "selector",
    "Swarm": "swarm",
    "GraphFlow": "graph",
    "MagenticOneGroupChat": "magentic_one",
}
# Team-level fields that change nothing in troupe (it always streams and emits events).
_SAME_ANYWAY = {"emit_team_events", "model_client_streaming", "name", "participants"}


@dataclass(frozen=True)
class AutoGenImport:
    """An imported team: the config, its generated tools module, what was left out."""

    config: dict[str, Any]
    teams: tuple[str, ...]
    not_carried: tuple[NotCarried, ...]
    notes: tuple[str, ...]
    tools_module: str
    tools_source: str | None

    def yaml(self) -> str:
        """The config as YAML, headed by comments listing what was not carried over."""
        lines = ["# Imported from AutoGen AgentChat by `troupe import autogen`."]
        if self.not_carried:
            lines.append("# Not carried over:")
            lines += [f"#   {_one_line(item)}" for item in self.not_carried]
        if self.notes:
            lines.append("# Notes:")
            lines += [f"#   {_one_line(note)}" for note in self.notes]
        body = yaml.dump(
            self.config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
        )
        return "\n".join(lines) + "\n" + body


def _one_line(item: object) -> str:
    return " ".join(str(item).split())


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _participant(raw: Any, path: str, imp: Importer) -> dict[str, Any] | None:
    if isinstance(raw, dict) and raw.get("component_type") == "team":
        c = Component.of(raw, path)
        wanted = str((c.get("name") if c else None) or "team")
        key = _import_team(raw, path, imp, wanted)
        return None if key is None else {"kind": "team", "name": identifier(wanted), "team": key}
    return import_agent(raw, path, imp)


def _selector(c: Component, imp: Importer, team: dict[str, Any]) -> None:
    selector: dict[str, Any] = {}
    if c.get("model_client"):
        selector["model"] = import_model(c.get("model_client"), c.at("model_client"), imp)
    if c.get("selector_prompt"):
        selector["prompt"] = c.get("selector_prompt")
    selector["allow_repeated_speaker"] = bool(c.get("allow_repeated_speaker"))
    if c.get("max_selector_attempts"):
        selector["max_attempts"] = c.get("max_selector_attempts")
    for key in ("selector_func", "candidate_func"):
        value = c.get(key)
        if isinstance(value, str) and ":" in value:
            selector[key] = value  # an import path, as troupe names functions
        elif value:
            imp.drop(c.at(key), key, "not an import path ('package.module:function')")
    if c.get("model_context"):
        context = Component.of(c.get("model_context"), c.at("model_context"))
        if context is not None and context.kind != "UnboundedChatCompletionContext":
            imp.drop(context.path, "the selector's model context", "troupe's selector sees all")
    team["selector"] = selector


def _graph(c: Component, imp: Importer, team: dict[str, Any]) -> None:
    graph = mapped(c.get("graph"))
    nodes = mapped(graph.get("nodes"))
    edges: list[dict[str, Any]] = []
    activation: dict[str, str] = {}
    groups: dict[str, set[str]] = {}
    for source, node in nodes.items():
        for i, edge in enumerate(listed(mapped(node).get("edges"))):
            where = f"{c.path}.graph.nodes.{source}.edges[{i}]"
            target = mapped(edge).get("target")
            if not isinstance(target, str):
                imp.drop(where, "edge", "it has no target")
                continue
            entry: dict[str, Any] = {"from": identifier(source), "to": identifier(target)}
            condition = edge.get("condition")
            if isinstance(condition, str) and condition:
                entry["when"] = condition
            elif condition:
                imp.drop(f"{where}.condition", "edge condition", "not a string")
            edges.append(entry)
            group = edge.get("activation_group") or target
            groups.setdefault(target, set()).add(group)
            if edge.get("activation_condition") == "any":
                activation[identifier(target)] = "any"
            if group != target:
                imp.drop(
                    f"{where}.activation_group",
                    f"activation group {group!r}",
                    "troupe config has no activation groups yet; the node waits for "
                    f"{activation.get(identifier(target), 'all')} of its incoming edges",
                )
    team["edges"] = edges
    if graph.get("default_start_node"):
        team["entry"] = [identifier(str(graph["default_start_node"]))]
    if activation:
        team["activation"] = activation


def _magentic_one(c: Component, imp: Importer, team: dict[str, Any]) -> str:
    """MagenticOne: its kind when troupe has it, else a selector team (the closest)."""
    fields = spec_fields(TeamSpec, "magentic_one")
    model = import_model(c.get("model_client"), c.at("model_client"), imp)
    if fields is not None and "model" in fields:
        team["model"] = model
        for key in ("max_stalls", "final_answer_prompt"):
            if key in fields and c.get(key) is not None:
                team[key] = c.get(key)
        return "magentic_one"
    imp.drop(
        c.path,
        "the Magentic-One orchestrator (task and progress ledgers, stalls, re-planning, "
        f"max_stalls={c.get('max_stalls')}, final_answer_prompt)",
        "troupe config has no magentic_one team yet; imported as a selector team whose "
        "model picks each speaker",
    )
    team["selector"] = {"model": model, "allow_repeated_speaker": True}
    return "selector"


def _import_team(raw: Any, path: str, imp: Importer, wanted: str) -> str | None:
    found = imp.lookup(raw, path, _KINDS, "team")
    if found is None:
        return None
    c, kind = found
    key = imp.team_name(wanted)
    imp.teams[key] = {}  # taken: an inner team gets another key
    team: dict[str, Any] = {"kind": kind}
    if c.get("description"):
        team["description"] = c.get("description")
    if kind == "selector":
        _selector(c, imp, team)
    elif kind == "graph":
        _graph(c, imp, team)
    elif kind == "magentic_one":
        team["kind"] = _magentic_one(c, imp, team)
    agents = [
        _participant(raw, c.at(f"participants[{i}]"), imp)
        for i, raw in enumerate(c.items("participants"))
    ]
    team["agents"] = [agent for agent in agents if agent is not None]
    if c.get("termination_condition"):
        termination = import_termination(
            c.get("termination_condition"), c.at("termination_condition"), imp
        )
        if termination:
            team["termination"] = termination
    if c.get("max_turns"):
        team["max_turns"] = c.get("max_turns")
    handled = _SAME_ANYWAY | {
        "description",
        "termination_condition",
        "max_turns",
        "model_client",
        "selector_prompt",
        "allow_repeated_speaker",
        "max_selector_attempts",
        "selector_func",
        "candidate_func",
        "model_context",
        "graph",
        "max_stalls",
        "final_answer_prompt",
    }
    for extra in sorted(set(c.config) - handled):
        imp.drop(c.at(extra), f"team setting {extra}", "troupe has no such setting")
    imp.teams[key] = team
    return key


_ENV_LIKE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}")


def _env_lookalikes(value: Any, path: str, imp: Importer) -> None:
    """Note the text (a system message, say) that troupe would read as ``${VAR}``."""
    found = _ENV_LIKE.search(value) if isinstance(value, str) else None
    if found is not None:
        imp.notes.append(
            f"{path} (in the YAML): troupe reads {found[0]} as an environment variable"
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            _env_lookalikes(item, f"{path}.{key}", imp)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _env_lookalikes(item, f"{path}[{i}]", imp)


def _roots(data: Any) -> list[tuple[Any, str]]:
    """The team components of a document: one team, or a Studio gallery's teams."""
    if isinstance(data, dict) and isinstance(data.get("component"), dict):
        return [(data["component"], "$.component")]
    components = data.get("components") if isinstance(data, dict) else None
    if isinstance(components, dict) and isinstance(components.get("teams"), list):
        return [(t, f"$.components.teams[{i}]") for i, t in enumerate(components["teams"])]
    return [(data, "$")]


def import_autogen(
    data: Any, *, name: str | None = None, tools_module: str = "autogen_tools"
) -> AutoGenImport:
    """Import AgentChat component JSON (text or parsed) as a troupe config.

    ``name`` is the team's key in ``teams:`` (default: the team's own name);
    ``tools_module`` is the module the tools given as source code are written
    to (see ``AutoGenImport.tools_source``).
    """
    if isinstance(data, str | bytes):
        data = json.loads(data)
    imp = Importer(tools_module=tools_module)

    def inner(raw: Any, path: str, wanted: str) -> str | None:
        return _import_team(raw, path, imp, wanted)

    imp.import_team = inner
    top: list[str] = []
    roots = _roots(data)
    for raw, path in roots:
        if not isinstance(raw, dict) or raw.get("component_type") not in (None, "team"):
            imp.drop(path, "component", "not a team (import a team's JSON)")
            continue
        c = Component.of(raw, path)
        wanted = name if name and len(roots) == 1 else str((c and c.get("name")) or "team")
        key = _import_team(raw, path, imp, wanted)
        if key is not None:
            top.append(key)
    # Inner teams were added first; the imported team leads the list.
    teams = {k: imp.teams[k] for k in top} | {k: v for k, v in imp.teams.items() if k not in top}
    _env_lookalikes(teams, "teams", imp)
    return AutoGenImport(
        config=config_of(imp.models, imp.executors, teams),
        teams=tuple(top),
        not_carried=tuple(imp.not_carried),
        notes=tuple(imp.notes),
        tools_module=tools_module,
        tools_source=render_tools_module(imp),
    )
