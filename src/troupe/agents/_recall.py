"""Before an agent's turn: what its memories recall for the latest message."""

from __future__ import annotations

__all__ = ["recall"]

from collections.abc import Sequence

from troupe.agents._base import AgentTurn, Emit
from troupe.events import MemoryQueried, MemoryRecalled
from troupe.memory import Memory, MemoryItem, memory_message
from troupe.messages import Message, text_of


async def recall(
    agent: str, memories: Sequence[Memory], turn: AgentTurn, emit: Emit
) -> tuple[Message, ...]:
    """The system message of what ``memories`` recall (none when they recall nothing);
    each query and its result are events."""
    query = next((text_of(m) for m in reversed(turn.transcript) if text_of(m)), "")
    items: list[MemoryItem] = []
    for memory in memories:
        await emit(MemoryQueried(agent=agent, memory=memory.name, query=query))
        found = await memory.query(query, scope=turn.scope)
        await emit(
            MemoryRecalled(
                agent=agent,
                memory=memory.name,
                contents=tuple(item.content for item in found),
                scores=tuple(item.score for item in found if item.score is not None),
            )
        )
        items.extend(found)
    return (memory_message(items, agent),) if items else ()
