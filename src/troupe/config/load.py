"""Reading a config file: YAML, ``${ENV}`` interpolation, every error with its path."""

from __future__ import annotations

__all__ = [
    "Parsed",
    "decode_config",
    "interpolate",
    "load_config",
    "parse_config",
    "parse_yaml",
    "read_config",
    "read_file",
]

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from troupe.config._collect import Collector, consequences_dropped, join
from troupe.config.spec import ConfigSpec
from troupe.errors import ConfigError, ConfigIssue

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, path: str, issues: list[ConfigIssue], env: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env and (env[name] or default is None):
                return env[name]
            if default is not None:
                return default
            issues.append(ConfigIssue(path, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(substitute, value)
    if isinstance(value, dict):
        return {k: interpolate(v, join(path, k), issues, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", issues, env) for i, v in enumerate(value)]
    return value


class Parsed(NamedTuple):
    """A config decoded as far as it goes: its spec, its problems, what was left out.

    ``dropped`` holds the paths of entries that could not be decoded at all (a
    model, a team, an agent); they are not in ``spec``, and their errors are in
    ``issues``. ``troupe check`` builds the rest, so that every error is found
    in one run.
    """

    spec: ConfigSpec
    issues: list[ConfigIssue]
    dropped: frozenset[str]


def parse_config(raw: Any, *, env: Mapping[str, str] | None = None) -> Parsed:
    """Decode an already-parsed config (a dict) leniently, collecting every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        issue = ConfigIssue("$", f"expected a mapping, got {type(raw).__name__}")
        return Parsed(ConfigSpec(), [issue], frozenset())
    unset: list[ConfigIssue] = []
    raw = interpolate(raw, "$", unset, os.environ if env is None else env)
    # An empty section (``teams:`` with nothing under it) is no section.
    raw = {key: value for key, value in raw.items() if value is not None}
    collector = Collector()
    spec = collector.convert(raw, ConfigSpec, "$")
    if not collector.ok(spec):
        spec = ConfigSpec()
    issues = unset + consequences_dropped(unset, collector.issues)
    return Parsed(spec, issues, frozenset(collector.dropped))


def decode_config(
    raw: Any, *, env: Mapping[str, str] | None = None, source: str | None = None
) -> ConfigSpec:
    """Validate an already-parsed config (a dict), reporting every problem found."""
    parsed = parse_config(raw, env=env)
    if parsed.issues:
        raise ConfigError(parsed.issues, source=source)
    return parsed.spec


def parse_yaml(text: str, *, source: str | None = None) -> Any:
    """YAML text as Python data; invalid YAML is a ``ConfigError`` saying where."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            ConfigIssue("$", f"invalid YAML{where}: {problem}"), source=source
        ) from None


def read_file(path: str | os.PathLike[str]) -> str:
    """A config file's text; an unreadable file is a ``ConfigError``."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            ConfigIssue("$", f"cannot read {file}: {err.strerror}"), source=str(file)
        ) from None


def read_config(
    text: str, *, env: Mapping[str, str] | None = None, source: str | None = None
) -> ConfigSpec:
    """Parse and validate YAML text."""
    return decode_config(parse_yaml(text, source=source), env=env, source=source)


def load_config(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> ConfigSpec:
    """Read and validate a config file."""
    return read_config(read_file(path), env=env, source=str(path))
