"""Reading a config file: YAML, ``${ENV}`` interpolation, every error with its path."""

from __future__ import annotations

__all__ = ["decode_config", "interpolate", "load_config", "read_config"]

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from troupe.config.spec import ConfigSpec, ExecutorSpec, ModelSpec, ServerSpec, TeamSpec
from troupe.errors import ConfigError, ConfigIssue

T = TypeVar("T")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_TOP_LEVEL = {"models", "executors", "teams", "server"}


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
        return {k: interpolate(v, _join(path, k), issues, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", issues, env) for i, v in enumerate(value)]
    return value


def _join(path: str, key: object) -> str:
    key = str(key)
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f"{path}[{key!r}]"


def _convert(raw: Any, type_: type[T], path: str, issues: list[ConfigIssue]) -> T | None:
    try:
        return msgspec.convert(raw, type_)
    except msgspec.ValidationError as err:
        match = _AT.match(str(err))
        assert match is not None
        issues.append(ConfigIssue(path + (match.group("path") or ""), match.group("msg")))
        return None


def decode_config(
    raw: Any, *, env: Mapping[str, str] | None = None, source: str | None = None
) -> ConfigSpec:
    """Validate an already-parsed config (a dict), reporting every problem found."""
    issues: list[ConfigIssue] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            ConfigIssue("$", f"expected a mapping, got {type(raw).__name__}"), source=source
        )
    raw = interpolate(raw, "$", issues, os.environ if env is None else env)
    for key in raw:
        if key not in _TOP_LEVEL:
            issues.append(
                ConfigIssue(
                    _join("$", key),
                    f"unknown section (expected one of {', '.join(sorted(_TOP_LEVEL))})",
                )
            )
    sections: dict[str, Any] = {}
    section_types: tuple[tuple[str, Any], ...] = (
        ("models", ModelSpec),
        ("executors", ExecutorSpec),
        ("teams", TeamSpec),
    )
    for section, spec_type in section_types:
        entries = raw.get(section) or {}
        if not isinstance(entries, dict):
            issues.append(
                ConfigIssue(
                    f"$.{section}", f"expected a mapping of names, got {type(entries).__name__}"
                )
            )
            continue
        converted = {}
        for name, entry in entries.items():
            if section == "executors" and isinstance(entry, dict):
                # Docker is the default executor: generated code runs contained.
                entry = {"kind": "docker", **entry}
            value = _convert(entry, spec_type, _join(f"$.{section}", name), issues)
            if value is not None:
                converted[str(name)] = value
        sections[section] = converted
    server = _convert(raw.get("server") or {}, ServerSpec, "$.server", issues)
    if not issues:
        # Per-entry conversion above found the field errors; this checks the rest (names).
        spec = _convert({**sections, "server": server}, ConfigSpec, "$", issues)
        if spec is not None:
            return spec
    raise ConfigError(issues, source=source)


def read_config(
    text: str, *, env: Mapping[str, str] | None = None, source: str | None = None
) -> ConfigSpec:
    """Parse and validate YAML text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            ConfigIssue("$", f"invalid YAML{where}: {problem}"), source=source
        ) from None
    return decode_config(raw, env=env, source=source)


def load_config(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> ConfigSpec:
    """Read and validate a config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            ConfigIssue("$", f"cannot read {file}: {err.strerror}"), source=str(file)
        ) from None
    return read_config(text, env=env, source=str(file))
