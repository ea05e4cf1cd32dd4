"""Message filters: an agent that sees only some messages of the conversation.

As AutoGen's ``MessageFilterAgent``: for each listed source, the ``first`` or
``last`` ``count`` chat messages of that source (all of them without a
count); messages of sources not listed are not seen. The messages kept stay
in conversation order (AutoGen groups them by filter). Chat messages are the
user's messages and the agents' answers; other agents' tool traffic is never
seen anyway, and the agent's own earlier tool calls go with the filter.
"""

from __future__ import annotations

__all__ = ["FilteredAgent", "MessageFilter", "PerSourceFilters", "filter_messages"]

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from troupe.agents._base import Agent, AgentOutcome, AgentTurn, Emit
from troupe.messages import AssistantMessage, Message, UserMessage


class MessageFilter(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The messages of ``source`` an agent sees: the ``first`` or ``last`` ``count``."""

    source: str
    # AutoGen's may be null: the last.
    position: Literal["first", "last"] | None = "last"
    count: Annotated[int, Meta(ge=1)] | None = None


class PerSourceFilters(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """AutoGen's ``MessageFilterConfig`` shape: ``{per_source: [...]}``."""

    per_source: list[MessageFilter]


def _is_chat(message: Message) -> bool:
    if isinstance(message, UserMessage):
        return True
    return (
        isinstance(message, AssistantMessage) and not message.tool_calls and bool(message.content)
    )


def filter_messages(
    transcript: Sequence[Message], filters: Sequence[MessageFilter]
) -> tuple[Message, ...]:
    """The messages of ``transcript`` that ``filters`` let through, in order."""
    keep: set[int] = set()
    for rule in filters:
        indexes = [i for i, m in enumerate(transcript) if m.source == rule.source and _is_chat(m)]
        if rule.count is not None:
            indexes = indexes[: rule.count] if rule.position == "first" else indexes[-rule.count :]
        keep.update(indexes)
    return tuple(m for i, m in enumerate(transcript) if i in keep)


class FilteredAgent:
    """``agent``, seeing only the messages ``filters`` let through."""

    def __init__(self, agent: Agent, filters: Sequence[MessageFilter]) -> None:
        self.agent = agent
        self.filters = tuple(filters)

    @property
    def name(self) -> str:
        return self.agent.name

    @property
    def description(self) -> str:
        return self.agent.description

    def __getattr__(self, attribute: str) -> Any:
        # The wrapped agent's model, tools, handoffs: what a team or the server looks up.
        return getattr(self.agent, attribute)

    async def run(self, turn: AgentTurn, emit: Emit) -> AgentOutcome:
        seen = filter_messages(turn.transcript, self.filters)
        return await self.agent.run(msgspec.structs.replace(turn, transcript=seen), emit)
