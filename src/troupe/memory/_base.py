"""The memory protocol and how recalled items reach the model."""

from __future__ import annotations

__all__ = ["Memory", "MemoryItem", "memory_message"]

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from troupe.messages import SystemMessage


class MemoryItem(msgspec.Struct, frozen=True, kw_only=True):
    """One recalled entry; ``score`` is the similarity to the query, where there is one."""

    content: str
    metadata: dict[str, Any] = {}
    score: float | None = None


@runtime_checkable
class Memory(Protocol):
    @property
    def name(self) -> str: ...

    async def query(self, text: str, *, scope: str = "") -> list[MemoryItem]:
        """What to recall for ``text`` (the latest message), most relevant first."""
        ...

    async def add(
        self, content: str, metadata: dict[str, Any] | None = None, *, scope: str = ""
    ) -> None:
        """Remember ``content``."""
        ...


def memory_message(items: Sequence[MemoryItem], agent: str) -> SystemMessage:
    """The system message that gives the model what was recalled."""
    lines = "\n".join(f"{i}. {item.content}" for i, item in enumerate(items, 1))
    return SystemMessage(
        content=f"\nRelevant memory content (in chronological order):\n{lines}\n", source=agent
    )
