"""AutoGen termination conditions as a ``termination:`` mapping; ``|`` is ``any:``, ``&`` is ``all:``."""

from __future__ import annotations

__all__ = ["import_termination"]

from typing import Any

from troupe.config.spec import TerminationSpec
from troupe.interop._autogen_base import Component, Importer

_FIELDS = frozenset(TerminationSpec.__struct_fields__)


def _text_mention(c: Component) -> Any:
    sources = c.get("sources")
    return {"text": c.get("text"), "sources": sources} if sources else c.get("text")


def _token_usage(c: Component) -> Any:
    limits = {
        ours: c.get(theirs)
        for theirs, ours in (
            ("max_total_token", "total"),
            ("max_prompt_token", "prompt"),
            ("max_completion_token", "completion"),
        )
        if c.get(theirs) is not None
    }
    return limits


# Each leaf condition: (its key in troupe's mapping, its value from the AutoGen config).
_LEAVES: dict[str, tuple[str, Any]] = {
    "MaxMessageTermination": ("max_messages", lambda c: c.get("max_messages")),
    "TextMentionTermination": ("text_mention", _text_mention),
    "StopMessageTermination": ("stop_message", lambda c: True),
    "TokenUsageTermination": ("token_usage", _token_usage),
    "HandoffTermination": ("handoff", lambda c: c.get("target")),
    "TimeoutTermination": ("timeout", lambda c: c.get("timeout_seconds")),
    "ExternalTermination": ("external", lambda c: True),
    "SourceMatchTermination": ("source_match", lambda c: c.items("sources")),
    "TextMessageTermination": ("text_message", lambda c: c.get("source") or True),
    "FunctionCallTermination": ("function_call", lambda c: c.get("function_name")),
}


def _functional(c: Component, imp: Importer) -> dict[str, Any] | None:
    func = c.get("func") or c.get("function")
    if isinstance(func, str) and ":" in func and "function" in _FIELDS:
        return {"function": func}  # a functional condition named by import path
    imp.drop(
        c.path,
        "FunctionalTermination",
        "its function is not in the JSON (AgentChat cannot serialize it); give troupe an "
        "import path once its config has functional termination",
    )
    return None


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``parts`` joined by *any*: one mapping when no key repeats, else ``any:``."""
    merged: dict[str, Any] = {}
    for part in parts:
        if merged.keys() & part.keys():
            return {"any": parts}
        merged.update(part)
    return merged


def import_termination(raw: Any, path: str, imp: Importer) -> dict[str, Any] | None:
    """The ``termination:`` mapping of the condition at ``path``; None when nothing is left."""
    c = Component.of(raw, path)
    if c is None:
        imp.drop(path, "termination condition", "not a component")
        return None
    if c.kind in ("OrTerminationCondition", "AndTerminationCondition"):
        found = [
            import_termination(inner, c.at(f"conditions[{i}]"), imp)
            for i, inner in enumerate(c.items("conditions"))
        ]
        parts = [part for part in found if part]
        if len(parts) < len(found) and c.kind == "AndTerminationCondition":
            imp.drop(c.path, "an '&' with a condition left out", "it now needs only the others")
        if not parts:
            return None
        if c.kind == "AndTerminationCondition":
            return parts[0] if len(parts) == 1 else {"all": parts}
        return _merge(parts)
    if c.kind == "FunctionalTermination":
        return _functional(c, imp)
    leaf = _LEAVES.get(c.kind)
    if leaf is None:
        imp.unknown(c, "termination condition")
        return None
    key, value = leaf
    if c.kind == "MaxMessageTermination" and c.get("include_agent_event"):
        imp.drop(
            c.at("include_agent_event"),
            "include_agent_event",
            "troupe counts chat messages only",
        )
    return {key: value(c)}
