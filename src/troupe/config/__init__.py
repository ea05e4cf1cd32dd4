"""Configuration: the YAML schema, loading with ``${ENV}`` interpolation, building teams."""

from __future__ import annotations

from pathlib import Path

from troupe.config.build import build_teams
from troupe.config.load import decode_config, load_config, read_config
from troupe.config.models import build_model
from troupe.config.spec import (
    AgentSpec,
    ConfigSpec,
    ModelSpec,
    ServerSpec,
    TeamSpec,
    TerminationSpec,
)
from troupe.teams import Team

__all__ = [
    "AgentSpec",
    "ConfigSpec",
    "ModelSpec",
    "ServerSpec",
    "TeamSpec",
    "TerminationSpec",
    "build_model",
    "build_teams",
    "decode_config",
    "load_config",
    "load_teams",
    "read_config",
]


def load_teams(path: str | Path) -> tuple[ConfigSpec, dict[str, Team]]:
    """Read, validate and build a config file: its spec and its teams."""
    file = Path(path)
    spec = load_config(file)
    return spec, build_teams(spec, base_dir=file.resolve().parent, source=str(file))
