"""What every part of the AutoGen import shares: components, paths, and what was left out.

An AgentChat component is ``{"provider": "pkg.module.Class", "config": {...}}``
(plus ``component_type``, ``version``, ``label``, ``description``). The class
name decides how a component is read; the JSON path of each component is kept
so that whatever cannot be carried over is reported where it is.
"""

from __future__ import annotations

__all__ = ["Component", "Importer", "NotCarried", "identifier", "listed", "mapped", "spec_fields"]

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
# AutoGen's own short names for providers (``autogen_core._component_config``).
_WELL_KNOWN = {
    "azure_openai_chat_completion_client": "AzureOpenAIChatCompletionClient",
    "openai_chat_completion_client": "OpenAIChatCompletionClient",
}


@dataclass(frozen=True)
class NotCarried:
    """A part of the AutoGen team that the troupe config does not have (yet)."""

    path: str
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what} — {self.why}"


@dataclass(frozen=True)
class Component:
    """One AgentChat component: its class name, its config, and where it is."""

    kind: str
    config: dict[str, Any]
    path: str
    version: int = 1

    @staticmethod
    def of(raw: Any, path: str) -> Component | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("provider"), str):
            return None
        provider: str = raw["provider"]
        kind = _WELL_KNOWN.get(provider, provider.rsplit(".", 1)[-1])
        config = raw.get("config")
        version = raw.get("component_version") or raw.get("version") or 1
        return Component(
            kind, config if isinstance(config, dict) else {}, f"{path}.config", int(version)
        )

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def items(self, key: str) -> list[Any]:
        """The list at ``key``; anything else (missing, malformed) is no items."""
        return listed(self.config.get(key))


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def mapped(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def spec_fields(union: Any, tag: str) -> frozenset[str] | None:
    """The fields of kind ``tag`` in a tagged union of spec Structs; None: no such kind.

    The import asks the config schema what it accepts, so that a kind or a field
    added to troupe later is used as soon as it exists.
    """
    members = getattr(union, "__args__", (union,))
    for member in members:
        config = getattr(member, "__struct_config__", None)
        if config is not None and config.tag == tag:
            return frozenset(f.encode_name for f in msgspec.structs.fields(member))
    return None


def identifier(text: str, fallback: str = "agent") -> str:
    """``text`` as an agent or team name troupe accepts (letters, digits, ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text.strip())[:64]
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = f"{fallback}_{name}"[:64]
    return name


@dataclass
class Importer:
    """The config being written, and the list of what could not be carried over."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    executors: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_carried: list[NotCarried] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Generated tool module: (function name, source code) in order, and its imports.
    tool_sources: dict[str, str] = field(default_factory=dict)
    tool_imports: list[str] = field(default_factory=list)
    tools_module: str = "autogen_tools"
    # Imports a team component (raw, path, wanted name) -> its key in ``teams:``.
    import_team: Callable[[Any, str, str], str | None] | None = None

    def drop(self, path: str, what: str, why: str) -> None:
        self.not_carried.append(NotCarried(path, what, why))

    def unknown(self, component: Component, role: str) -> None:
        self.drop(component.path, f"{role} {component.kind}", "troupe has no counterpart")

    def lookup(
        self, raw: Any, path: str, table: Mapping[str, T], role: str
    ) -> tuple[Component, T] | None:
        """The component at ``path`` and its entry in ``table``; None (reported) if none."""
        c = Component.of(raw, path)
        if c is None:
            self.drop(path, role, "not a component")
            return None
        if c.kind not in table:
            self.unknown(c, role)
            return None
        return c, table[c.kind]

    def add_model(self, spec: dict[str, Any], hint: str) -> str:
        """The name of a ``models:`` entry with this spec (an identical one is shared)."""
        for name, existing in self.models.items():
            if existing == spec:
                return name
        base = re.sub(r"[^A-Za-z0-9._-]", "-", hint).strip("-") or "model"
        name, n = base, 2
        while name in self.models:
            name, n = f"{base}-{n}", n + 1
        self.models[name] = spec
        return name

    def add_executor(self, spec: dict[str, Any], hint: str) -> str:
        for name, existing in self.executors.items():
            if existing == spec:
                return name
        name, n = hint, 2
        while name in self.executors:
            name, n = f"{hint}{n}", n + 1
        self.executors[name] = spec
        return name

    def team_name(self, wanted: str) -> str:
        """A free key of ``teams:`` like ``wanted`` (``^[A-Za-z0-9][A-Za-z0-9._:-]*``)."""
        base = re.sub(r"[^A-Za-z0-9._:-]", "_", wanted.strip()).lstrip("._:-")[:60] or "team"
        name, n = base, 2
        while name in self.teams:
            name, n = f"{base}_{n}", n + 1
        return name


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
