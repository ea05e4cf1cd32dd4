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
# Nodes a document may reach through aliases (``*name``) before it is refused: a few
# kilobytes of nested aliases ("billion laughs") would otherwise expand to billions.
MAX_NODES = 100_000


class _TooBig(Exception):
    """A document that aliases expand past ``MAX_NODES``, or into itself."""


def _expanded(root: yaml.Node) -> None:
    """Raise ``_TooBig`` if ``root``, every alias expanded, has more than ``MAX_NODES`` nodes
    or contains itself (each node is counted once: linear in the text, not its expansion)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if done:
            open_.discard(id(node))
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > MAX_NODES:
                raise _TooBig(
                    f"the YAML expands to more than {MAX_NODES} nodes through its aliases "
                    "(*name): refused"
                )
            sizes[id(node)] = size
            continue
        if id(node) in open_:
            raise _TooBig("an alias refers to a node that contains it (a recursive alias)")
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a document whose aliases expand it past ``MAX_NODES``
    or into itself, before anything walks it."""

    aliased = False

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliased = True
        return super().compose_node(parent, index)

    def construct_document(self, node: yaml.Node) -> Any:
        # Without aliases a document is as big as its text, however many nodes it has.
        if self.aliased:
            _expanded(node)
        return super().construct_document(node)


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
        return yaml.load(text, Loader=_Loader)  # a SafeLoader, with the alias cap
    except _TooBig as err:
        raise ConfigError(ConfigIssue("$", str(err)), source=source) from None
    except RecursionError:
        raise ConfigError(
            ConfigIssue("$", "invalid YAML: nested too deeply"), source=source
        ) from None
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
