"""``termination:`` in config, as a ``TerminationCondition``."""

from __future__ import annotations

__all__ = ["build_termination"]

from troupe.config.spec import TerminationSpec
from troupe.teams import (
    AllOf,
    AnyOf,
    External,
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


def _leaves(spec: TerminationSpec) -> list[TerminationCondition]:
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
    return found


def build_termination(spec: TerminationSpec | None) -> TerminationCondition | None:
    """The condition of a ``termination:`` mapping: its entries joined by *any*."""
    if spec is None:
        return None
    parts = _leaves(spec)
    if spec.any:
        inner = [c for c in map(build_termination, spec.any) if c is not None]
        if inner:
            parts.append(AnyOf(inner))
    if spec.all:
        inner = [c for c in map(build_termination, spec.all) if c is not None]
        if inner:
            parts.append(AllOf(inner))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AnyOf(parts)
