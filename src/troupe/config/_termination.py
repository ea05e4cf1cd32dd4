"""``termination:`` in config, as a ``TerminationCondition``."""

from __future__ import annotations

__all__ = ["build_termination", "unknown_agents"]

from collections.abc import Callable
from typing import Any

from troupe.config.spec import TerminationSpec
from troupe.errors import ConfigIssue
from troupe.teams import (
    AllOf,
    AnyOf,
    External,
    Functional,
    FunctionCall,
    Handoff,
    MaxMessages,
    SourceMatch,
    StopMessage,
    TerminationCondition,
    TextMention,
    TextMessage,
    Timeout,
    TokenUsage,
)

# Imports a function named in config (reporting a bad one at its path), or None.
Resolve = Callable[[str | None, str], Callable[..., Any] | None]


def _leaves(
    spec: TerminationSpec, resolve: Resolve | None, path: str
) -> list[TerminationCondition]:
    found: list[TerminationCondition] = []
    if spec.max_messages is not None:
        found.append(MaxMessages(spec.max_messages))
    if isinstance(spec.text_mention, str):
        found.append(TextMention(spec.text_mention))
    elif spec.text_mention is not None:
        found.append(TextMention(spec.text_mention.text, spec.text_mention.sources))
    if spec.stop_message:
        found.append(StopMessage())
    if spec.token_usage is not None:
        usage = spec.token_usage
        found.append(TokenUsage(usage.total, usage.prompt, usage.completion))
    if spec.handoff is not None:
        found.append(Handoff(spec.handoff))
    if spec.timeout is not None:
        found.append(Timeout(spec.timeout))
    if spec.external:
        found.append(External())
    if spec.source_match:
        found.append(SourceMatch(spec.source_match))
    if spec.text_message:
        found.append(TextMessage(spec.text_message if isinstance(spec.text_message, str) else None))
    if spec.function_call is not None:
        found.append(FunctionCall(spec.function_call))
    if spec.function is not None and resolve is not None:
        func = resolve(spec.function, f"{path}.function")
        if func is not None:
            found.append(Functional(func))
    return found


def build_termination(
    spec: TerminationSpec | None, resolve: Resolve | None = None, path: str = "$.termination"
) -> TerminationCondition | None:
    """The condition of a ``termination:`` mapping: its entries joined by *any*.

    ``resolve`` imports ``function:`` predicates (without it they are left out)."""
    if spec is None:
        return None
    parts = _leaves(spec, resolve, path)
    for group, specs, join in (("any", spec.any, AnyOf), ("all", spec.all, AllOf)):
        inner = [
            c
            for i, s in enumerate(specs or ())
            if (c := build_termination(s, resolve, f"{path}.{group}[{i}]")) is not None
        ]
        if inner:
            parts.append(join(inner))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AnyOf(parts)


def unknown_agents(spec: TerminationSpec | None, agents: set[str], path: str) -> list[ConfigIssue]:
    """The names a ``termination:`` mapping gives that are no agent of the team.

    ``agents`` holds the names that may speak in the team's run (those of teams
    taking part as one agent included); a handoff may also go to ``user``.
    """
    if spec is None:
        return []
    known = ", ".join(sorted(agents))
    named: list[tuple[str, str]] = []
    if spec.text_mention is not None and not isinstance(spec.text_mention, str):
        named += [
            (f"text_mention.sources[{i}]", s) for i, s in enumerate(spec.text_mention.sources or ())
        ]
    named += [(f"source_match[{i}]", s) for i, s in enumerate(spec.source_match or ())]
    if isinstance(spec.text_message, str):
        named.append(("text_message", spec.text_message))
    if spec.handoff is not None and spec.handoff != "user":
        named.append(("handoff", spec.handoff))
    issues = [
        ConfigIssue(f"{path}.{where}", f"unknown agent {name!r} (agents: {known})")
        for where, name in named
        if name not in agents
    ]
    for group, specs in (("any", spec.any), ("all", spec.all)):
        for i, inner in enumerate(specs or ()):
            issues += unknown_agents(inner, agents, f"{path}.{group}[{i}]")
    return issues
