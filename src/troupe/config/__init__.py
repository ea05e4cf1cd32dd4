"""Configuration: the YAML schema, loading with ``${ENV}`` interpolation, building teams.

``load_teams`` is what ``troupe check`` and ``troupe serve`` run: every error
of a file (fields, unset variables, references between models, tools,
executors and teams) in one ``ConfigError``, each with its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from troupe.config._collect import consequences_dropped
from troupe.config.build import build_teams
from troupe.config.load import (
    Parsed,
    decode_config,
    load_config,
    parse_config,
    parse_yaml,
    read_config,
    read_file,
)
from troupe.config.models import build_model
from troupe.config.spec import (
    AgentSpec,
    AssistantAgentSpec,
    CodeExecutorAgentSpec,
    ConfigSpec,
    GraphTeamSpec,
    ModelSpec,
    RoundRobinTeamSpec,
    SelectorTeamSpec,
    ServerSpec,
    SwarmTeamSpec,
    TeamAgentSpec,
    TeamSpec,
    TerminationSpec,
    UserProxyAgentSpec,
)
from troupe.errors import ConfigError
from troupe.teams import Team

__all__ = [
    "AgentSpec",
    "AssistantAgentSpec",
    "CodeExecutorAgentSpec",
    "ConfigSpec",
    "GraphTeamSpec",
    "ModelSpec",
    "Parsed",
    "RoundRobinTeamSpec",
    "SelectorTeamSpec",
    "ServerSpec",
    "SwarmTeamSpec",
    "TeamAgentSpec",
    "TeamSpec",
    "TerminationSpec",
    "UserProxyAgentSpec",
    "build_model",
    "build_teams",
    "decode_config",
    "load_config",
    "load_teams",
    "parse_config",
    "read_config",
    "read_teams",
]


def read_teams(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    source: str | None = None,
    base_dir: Path | None = None,
) -> tuple[ConfigSpec, dict[str, Team]]:
    """Validate and build a config's YAML text: its spec and its teams.

    Raises one ``ConfigError`` with every problem: the teams are checked even
    when some fields are wrong, leaving out what those errors already explain.
    """
    parsed = parse_config(parse_yaml(text, source=source), env=env)
    later = []
    teams: dict[str, Team] = {}
    try:
        teams = build_teams(parsed.spec, base_dir=base_dir, source=source, dropped=parsed.dropped)
    except ConfigError as err:
        later = err.issues
    issues = parsed.issues + consequences_dropped(parsed.issues, later)
    if issues:
        raise ConfigError(issues, source=source)
    return parsed.spec, teams


def load_teams(path: str | Path) -> tuple[ConfigSpec, dict[str, Team]]:
    """Read, validate and build a config file (see ``read_teams``)."""
    file = Path(path)
    return read_teams(read_file(file), source=str(file), base_dir=file.resolve().parent)
