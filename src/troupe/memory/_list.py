"""``ListMemory``: static facts, all recalled every turn (AutoGen's ``ListMemory``)."""

from __future__ import annotations

__all__ = ["ListMemory"]

from collections.abc import Sequence
from typing import Any

from troupe.memory._base import MemoryItem


class ListMemory:
    """Facts given up front (and any added later in this process), recalled in order."""

    def __init__(self, name: str, items: Sequence[str] = ()) -> None:
        self._name = name
        self._items = [MemoryItem(content=text) for text in items]

    @property
    def name(self) -> str:
        return self._name

    async def query(self, text: str, *, scope: str = "") -> list[MemoryItem]:
        return list(self._items)

    async def add(
        self, content: str, metadata: dict[str, Any] | None = None, *, scope: str = ""
    ) -> None:
        self._items.append(MemoryItem(content=content, metadata=metadata or {}))
