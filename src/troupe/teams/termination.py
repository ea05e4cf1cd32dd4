"""Termination conditions: when a team run stops.

A condition is an immutable rule over the run so far (``RunProgress``); it
returns the stop reason, or None to go on. Conditions compose with ``|`` (any
fires) and ``&`` (all have fired). Because a condition reads the whole run
rather than keeping counters, it needs no reset and a latched ``&`` falls out
of the data: a mention seen once stays in the run's messages.
"""

from __future__ import annotations

__all__ = ["AllOf", "AnyOf", "MaxMessages", "TerminationCondition", "TextMention"]

from abc import ABC, abstractmethod
from collections.abc import Iterable

from troupe.messages import AssistantMessage, text_of
from troupe.teams._state import RunProgress


class TerminationCondition(ABC):
    @abstractmethod
    def check(self, run: RunProgress) -> str | None:
        """The stop reason if the run should stop now, else None."""

    def __or__(self, other: TerminationCondition) -> TerminationCondition:
        return AnyOf((self, other))

    def __and__(self, other: TerminationCondition) -> TerminationCondition:
        return AllOf((self, other))


class AnyOf(TerminationCondition):
    """Stops when any condition fires; the reasons of all that fired are joined."""

    def __init__(self, conditions: Iterable[TerminationCondition]) -> None:
        self.conditions = tuple(conditions)

    def check(self, run: RunProgress) -> str | None:
        reasons = [r for r in (c.check(run) for c in self.conditions) if r]
        return ", ".join(reasons) or None

    def __repr__(self) -> str:
        return " | ".join(map(repr, self.conditions))


class AllOf(TerminationCondition):
    """Stops once every condition has fired."""

    def __init__(self, conditions: Iterable[TerminationCondition]) -> None:
        self.conditions = tuple(conditions)

    def check(self, run: RunProgress) -> str | None:
        reasons = [c.check(run) for c in self.conditions]
        if all(reasons):
            return ", ".join(r for r in reasons if r)
        return None

    def __repr__(self) -> str:
        return " & ".join(map(repr, self.conditions))


class MaxMessages(TerminationCondition):
    """Stops when the run has ``max_messages`` chat messages (the user's included)."""

    def __init__(self, max_messages: int) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.max_messages = max_messages

    def check(self, run: RunProgress) -> str | None:
        if len(run.messages) >= self.max_messages:
            return f"maximum number of messages {self.max_messages} reached"
        return None

    def __repr__(self) -> str:
        return f"MaxMessages({self.max_messages})"


class TextMention(TerminationCondition):
    """Stops when an agent's message (from ``sources``, if given) contains ``text``.

    Unlike AutoGen, the user's own messages are not searched: a task that says
    "reply APPROVE when done" must not stop the run before anyone answers.
    """

    def __init__(self, text: str, sources: Iterable[str] | None = None) -> None:
        if not text:
            raise ValueError("text_mention needs a non-empty text")
        self.text = text
        self.sources = frozenset(sources) if sources is not None else None

    def check(self, run: RunProgress) -> str | None:
        for message in run.messages:
            if not isinstance(message, AssistantMessage):
                continue
            if self.sources is not None and message.source not in self.sources:
                continue
            if self.text in text_of(message):
                return f"text '{self.text}' mentioned by {message.source}"
        return None

    def __repr__(self) -> str:
        return f"TextMention({self.text!r})"
