"""Termination conditions: when a team run stops.

A condition is an immutable rule over the run so far (``RunProgress``); it
returns the stop reason, or None to go on. Conditions compose with ``|`` (any
fires) and ``&`` (all have fired). Because a condition reads the whole run
rather than keeping counters, it needs no reset, two conversations never
share one, and a latched ``&`` falls out of the data: a mention seen once
stays in the run's messages.
"""

from __future__ import annotations

__all__ = [
    "AllOf",
    "AnyOf",
    "External",
    "FunctionCall",
    "Functional",
    "Handoff",
    "MaxMessages",
    "SourceMatch",
    "StopMessage",
    "TerminationCondition",
    "TextMention",
    "TextMessage",
    "Timeout",
    "TokenUsage",
]

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence

from troupe.errors import ConfigError, ConfigIssue
from troupe.messages import AssistantMessage, Message, ToolMessage, text_of
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
    """Stops once every condition has fired (each stays fired: it reads the whole run)."""

    def __init__(self, conditions: Iterable[TerminationCondition]) -> None:
        self.conditions = tuple(conditions)

    def check(self, run: RunProgress) -> str | None:
        reasons = [c.check(run) for c in self.conditions]
        if all(reasons):
            return " and ".join(r for r in reasons if r)
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


def _agent_messages(run: RunProgress, sources: frozenset[str] | None) -> Iterable[Message]:
    """Messages of the team's participants (a user proxy's included), not the end user's."""
    for message in run.messages:
        if message.source != "user" and (sources is None or message.source in sources):
            yield message


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
        for message in _agent_messages(run, self.sources):
            if self.text in text_of(message):
                return f"text '{self.text}' mentioned by {message.source}"
        return None

    def __repr__(self) -> str:
        return f"TextMention({self.text!r})"


class StopMessage(TerminationCondition):
    """Stops when an agent asks to stop (an agent's ``stop`` tool)."""

    def check(self, run: RunProgress) -> str | None:
        for message in _agent_messages(run, None):
            if isinstance(message, AssistantMessage) and message.stop:
                return f"stop requested by {message.source}: {message.stop}"
        return None

    def __repr__(self) -> str:
        return "StopMessage()"


class TokenUsage(TerminationCondition):
    """Stops when the run's tokens (all agents and the speaker selector) reach a limit."""

    def __init__(
        self,
        max_total_tokens: int | None = None,
        max_prompt_tokens: int | None = None,
        max_completion_tokens: int | None = None,
    ) -> None:
        if max_total_tokens is None and max_prompt_tokens is None and max_completion_tokens is None:
            raise ValueError("token_usage needs at least one of total, prompt, completion")
        self.limits = (
            ("total", max_total_tokens),
            ("prompt", max_prompt_tokens),
            ("completion", max_completion_tokens),
        )

    def check(self, run: RunProgress) -> str | None:
        used = {
            "total": run.usage.total_tokens,
            "prompt": run.usage.prompt_tokens,
            "completion": run.usage.completion_tokens,
        }
        for kind, limit in self.limits:
            if limit is not None and used[kind] >= limit:
                return f"{kind} token usage {used[kind]} reached the limit {limit}"
        return None

    def __repr__(self) -> str:
        return f"TokenUsage({', '.join(f'{k}={v}' for k, v in self.limits if v is not None)})"


class Handoff(TerminationCondition):
    """Stops when an agent hands off to ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target

    def check(self, run: RunProgress) -> str | None:
        for source, target in run.handoffs:
            if target == self.target:
                return f"{source} handed off to {target}"
        return None

    def __repr__(self) -> str:
        return f"Handoff({self.target!r})"


class Timeout(TerminationCondition):
    """Stops at the first check after ``seconds`` of run time (checked between turns)."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("timeout must be positive")
        self.seconds = seconds

    def check(self, run: RunProgress) -> str | None:
        if run.elapsed >= self.seconds:
            return f"timeout of {self.seconds:g} s reached"
        return None

    def __repr__(self) -> str:
        return f"Timeout({self.seconds})"


class External(TerminationCondition):
    """Stops when someone asks from outside (``POST /v1/conversations/{id}/stop``)."""

    def check(self, run: RunProgress) -> str | None:
        return "stopped on request" if run.stop_requested else None

    def __repr__(self) -> str:
        return "External()"


class SourceMatch(TerminationCondition):
    """Stops when any of ``sources`` has spoken."""

    def __init__(self, sources: Iterable[str]) -> None:
        self.sources = frozenset(sources)
        if not self.sources:
            raise ValueError("source_match needs at least one agent name")

    def check(self, run: RunProgress) -> str | None:
        for message in run.messages:
            if message.source in self.sources and message.source != "user":
                return f"{message.source} spoke"
        return None

    def __repr__(self) -> str:
        return f"SourceMatch({sorted(self.sources)})"


class TextMessage(TerminationCondition):
    """Stops on the first plain text message of an agent (``source``, if given)."""

    def __init__(self, source: str | None = None) -> None:
        self.source = source

    def check(self, run: RunProgress) -> str | None:
        sources = frozenset({self.source}) if self.source else None
        for message in _agent_messages(run, sources):
            if text_of(message) and not (
                isinstance(message, AssistantMessage) and message.tool_calls
            ):
                return f"text message from {message.source}"
        return None

    def __repr__(self) -> str:
        return f"TextMessage({self.source!r})"


class FunctionCall(TerminationCondition):
    """Stops when a tool named ``function_name`` has been executed."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def check(self, run: RunProgress) -> str | None:
        for item in run.items:
            if isinstance(item, ToolMessage) and item.name == self.function_name:
                return f"function {self.function_name} was called by {item.source}"
        return None

    def __repr__(self) -> str:
        return f"FunctionCall({self.function_name!r})"


class Functional(TerminationCondition):
    """Stops when ``func(messages)`` is true: a Python predicate over the run's chat
    messages so far (the user's, then each turn's answer)."""

    def __init__(self, func: Callable[[Sequence[Message]], bool]) -> None:
        if inspect.iscoroutinefunction(func):
            raise ConfigError(
                ConfigIssue(
                    "$.function", f"{_name_of(func)} is async; a termination function must be sync"
                )
            )
        self.func = func

    def check(self, run: RunProgress) -> str | None:
        if self.func(run.messages):
            return f"function {_name_of(self.func)} returned true"
        return None

    def __repr__(self) -> str:
        return f"Functional({_name_of(self.func)})"


def _name_of(func: object) -> str:
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or func)
